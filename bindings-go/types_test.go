package heroa_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// The Go types keep to the protocol's JSON Schema (schemas/protocol.schema.json,
// generated from the Rust protocol crate): an answer's type names every property
// the schema gives it and nothing else; an input's fields are all the schema's.
// A field added to the protocol fails here until the Go type has it.
func TestTypesMatchTheProtocolSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "schemas", "protocol.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	answers := map[string]any{
		"Agent": heroa.Agent{}, "WebhookInfo": heroa.WebhookInfo{}, "Run": heroa.Run{},
		"VaultEntry": heroa.VaultEntry{}, "Policy": heroa.PolicyVersion{}, "Translation": heroa.Translation{},
		"Deployment": heroa.Deployment{}, "Workspace": heroa.Workspace{}, "InboxItem": heroa.InboxItem{},
		"SkillInfo": heroa.SkillInfo{}, "TemplateInfo": heroa.TemplateInfo{}, "Approval": heroa.Approval{},
		"Delivery": heroa.Delivery{}, "DeliveryAttempt": heroa.DeliveryAttempt{}, "AuditRecord": heroa.AuditRecord{},
		"AuditEvent": heroa.AuditEvent{}, "AuditVerification": heroa.AuditVerification{},
		"RunCompletedWebhook": heroa.RunCompletedWebhook{}, "RunEvent": heroa.Event{},
		// Inputs the Go type covers whole.
		"WebhookConfig": heroa.Webhook{}, "VaultPut": heroa.VaultPut{}, "DeployPolicy": heroa.Policy{},
		"LlmConfig": heroa.LLMConfig{}, "ToolSpec": heroa.ToolSpec{}, "ListQuery": heroa.ListOptions{},
		"AgentListQuery": heroa.AgentListOptions{}, "ApprovalListQuery": heroa.ApprovalListOptions{},
	}
	// Inputs whose Go form leaves some of the schema's fields to other methods.
	inputs := map[string]struct {
		v    any
		left []string
	}{
		"RegisterAgent": {heroa.RegisterAgent{}, nil},
		"UpdateAgent":   {heroa.UpdateAgent{}, []string{"region"}}, // a region never changes
		"DeployRequest": {heroa.DeployInput{}, nil},
	}
	for def, v := range answers {
		got, want := tags(v), props(t, schema.Defs[def].Properties, def)
		if !slices.Equal(got, want) {
			t.Errorf("%T (schema %s):\n  Go:     %v\n  schema: %v", v, def, got, want)
		}
	}
	for def, in := range inputs {
		got, want := tags(in.v), props(t, schema.Defs[def].Properties, def)
		want = slices.DeleteFunc(want, func(p string) bool { return slices.Contains(in.left, p) })
		if !slices.Equal(got, want) {
			t.Errorf("%T (schema %s):\n  Go:     %v\n  schema: %v", in.v, def, got, want)
		}
	}
}

func props(t *testing.T, p map[string]json.RawMessage, def string) []string {
	if len(p) == 0 {
		t.Fatalf("the schema has no properties for %s", def)
	}
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// tags are the JSON names of v's exported fields, sorted.
func tags(v any) []string {
	var out []string
	ty := reflect.TypeOf(v)
	for i := range ty.NumField() {
		f := ty.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
