package heroa_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// Go functions as skills: output, errors and panics that fail one call, the vault
// only while the call runs, and the run's cancellation as the context's.
func TestGoSkills(t *testing.T) {
	ctx := context.Background()
	c, err := heroa.Embedded("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const secret = "sk-live-a-go-secret-value-42"
	var leaked *heroa.SkillCall
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.RegisterSkill("crm:lookup", heroa.Read, func(ctx context.Context, call *heroa.SkillCall) (any, error) {
		var args map[string]any
		_ = json.Unmarshal(call.Args, &args)
		token, err := call.Secret("tok")
		if err != nil {
			return nil, err
		}
		return map[string]any{"args": args, "agent": call.AgentID, "run": call.RunID, "token_len": len(token)}, nil
	}, heroa.SkillOptions{CostUSD: "0.02", Description: "Looks a contact up."}))
	must(c.RegisterSkill("crm:fails", heroa.Read, func(context.Context, *heroa.SkillCall) (any, error) {
		return nil, errors.New("the CRM said no")
	}))
	must(c.RegisterSkill("crm:panics", heroa.Read, func(context.Context, *heroa.SkillCall) (any, error) {
		panic("boom")
	}))
	must(c.RegisterSkill("crm:leak", heroa.Read, func(_ context.Context, call *heroa.SkillCall) (any, error) {
		leaked = call
		return call.Secret("tok")
	}))
	a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "go-skills", Region: "us-east"})
	must(err)
	_, err = c.Policies.Create(ctx, a.ID, "permit(principal, action, resource);")
	must(err)
	_, err = c.Agents.SetPromotion(ctx, a.ID, "L3_autonomous")
	must(err)
	_, err = c.Vault.Put(ctx, heroa.VaultPut{AgentID: a.ID, Key: "tok", Value: secret})
	must(err)
	calls := []any{}
	for _, s := range []string{"crm:lookup", "crm:fails", "crm:panics", "crm:leak"} {
		calls = append(calls, map[string]any{"skill": s, "args": map[string]any{"snake_key": 1}})
	}
	started, err := c.Agents.Run(ctx, a.ID, map[string]any{"calls": calls})
	must(err)
	run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
	must(err)
	var out struct {
		Results []map[string]any `json:"results"`
	}
	must(json.Unmarshal(run.Output, &out))
	got, _ := json.Marshal(out.Results)
	text := string(got)
	for _, want := range []string{
		`"outcome":"executed","output":{"agent":"` + a.ID,
		`"args":{"snake_key":1}`,
		`"token_len":28`,
		`"error":"the CRM said no","outcome":"failed"`,
		`"error":"panic: boom","outcome":"failed"`,
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("want %s in %s", want, text)
		}
	}
	if run.CostUSD != "0.02" {
		t.Fatalf("cost %s", run.CostUSD)
	}
	// The secret a skill returned is scrubbed from the run; after its call a skill's
	// handle cannot read the vault.
	if strings.Contains(string(run.Output), secret) {
		t.Fatal("a vault value reached the run's output")
	}
	if _, err := leaked.Secret("tok"); !errors.Is(err, heroa.ErrFailedPrecondition) {
		t.Fatalf("after the call: %v", err)
	}
}

func TestGoSkillSeesTheRunsCancellation(t *testing.T) {
	ctx := context.Background()
	c, err := heroa.Embedded("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	entered := make(chan struct{})
	var sawCancel atomic.Bool
	done := make(chan struct{})
	err = c.RegisterSkill("slow", heroa.Read, func(ctx context.Context, _ *heroa.SkillCall) (any, error) {
		close(entered)
		<-ctx.Done()
		sawCancel.Store(true)
		close(done)
		return nil, ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "slow", Region: "us-east"})
	_, _ = c.Policies.Create(ctx, a.ID, "permit(principal, action, resource);")
	_, _ = c.Agents.SetPromotion(ctx, a.ID, "L3_autonomous")
	run, err := c.Agents.Run(ctx, a.ID, map[string]any{"calls": []any{map[string]any{"skill": "slow", "args": map[string]any{}}}})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	if r, err := c.Runs.Cancel(ctx, run.ID); err != nil || r.Status != "cancelled" {
		t.Fatalf("cancel: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the skill's context was not cancelled")
	}
	if !sawCancel.Load() {
		t.Fatal("no cancellation seen")
	}
}

func TestSkillsAndTemplatesNeedAnEmbeddedClient(t *testing.T) {
	s := startServer(t)
	c := heroa.NewClient(heroa.WithBaseURL(s.url), heroa.WithAPIKey(s.key))
	defer c.Close()
	err := c.RegisterSkill("x", heroa.Read, func(context.Context, *heroa.SkillCall) (any, error) { return nil, nil })
	if !errors.Is(err, heroa.ErrFailedPrecondition) {
		t.Fatalf("remote: %v", err)
	}
	err = c.RegisterTemplate("x", func(context.Context, *heroa.RunContext) (any, error) { return nil, nil })
	if !errors.Is(err, heroa.ErrFailedPrecondition) {
		t.Fatalf("remote template: %v", err)
	}
	e, _ := heroa.Embedded("")
	defer e.Close()
	err = e.RegisterSkill("x", "delete", func(context.Context, *heroa.SkillCall) (any, error) { return nil, nil })
	var herr *heroa.Error
	if !errors.As(err, &herr) || herr.Field != "kind" {
		t.Fatalf("bad kind: %v", err)
	}
}
