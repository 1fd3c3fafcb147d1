package heroa_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/heroa/heroa-sdk/bindings-go"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// The shared policy decision vectors decide alike in Go.
func TestPolicyVectors(t *testing.T) {
	var data struct {
		Sets []struct {
			Name      string `json:"name"`
			Documents []struct {
				ID   string `json:"id"`
				Text string `json:"text"`
			} `json:"documents"`
			Cases []struct {
				Name     string          `json:"name"`
				Request  json.RawMessage `json:"request"`
				Expected struct {
					Allowed   bool     `json:"allowed"`
					Reasons   []string `json:"reasons"`
					HasErrors bool     `json:"has_errors"`
				} `json:"expected"`
			} `json:"cases"`
		} `json:"sets"`
	}
	readJSON(t, filepath.Join("..", "tests", "vectors", "policy", "decisions.json"), &data)
	n := 0
	for _, set := range data.Sets {
		docs := []heroa.Document{}
		for _, d := range set.Documents {
			docs = append(docs, heroa.Document{ID: d.ID, Text: d.Text})
		}
		engine, err := heroa.NewPolicyEngine(docs...)
		if err != nil {
			t.Fatalf("%s: %v", set.Name, err)
		}
		for _, c := range set.Cases {
			var req heroa.CheckRequest
			if err := json.Unmarshal(c.Request, &req); err != nil {
				t.Fatal(err)
			}
			// The whole request as JSON (an unbound engine), then the fast path: an
			// engine bound to the case's agent, plain arguments.
			bound, err := engine.Bind(req.Agent)
			if err != nil {
				t.Fatal(err)
			}
			for path, e := range map[string]*heroa.PolicyEngine{"json": engine, "bound": bound} {
				d, err := e.Check(req)
				if err != nil {
					t.Fatalf("%s / %s (%s): %v", set.Name, c.Name, path, err)
				}
				ids := []string{}
				for _, r := range d.Reasons {
					ids = append(ids, r.PolicyID)
				}
				if d.Allowed != c.Expected.Allowed || !reflect.DeepEqual(ids, append([]string{}, c.Expected.Reasons...)) || (len(d.Errors) > 0) != c.Expected.HasErrors {
					t.Fatalf("%s / %s (%s): got %+v", set.Name, c.Name, path, d)
				}
				if ok, err := e.Allows(req); err != nil || ok != c.Expected.Allowed {
					t.Fatalf("%s / %s (%s): Allows %v %v", set.Name, c.Name, path, ok, err)
				}
			}
			bound.Close()
			n++
		}
		engine.Close()
	}
	if n < 20 {
		t.Fatalf("only %d cases", n)
	}
	_, err := heroa.NewPolicyEngine(heroa.Document{ID: "bad", Text: "permit(principal,"})
	var herr *heroa.Error
	if !errors.As(err, &herr) || herr.Field != "document" {
		t.Fatalf("invalid document: %v", err)
	}
}

// The shared event-stream vectors decode alike in Go, whole and a byte at a time.
func TestSSEVectors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "tests", "vectors", "sse", "*.json"))
	if len(files) < 30 {
		t.Fatalf("only %d vectors", len(files))
	}
	for _, f := range files {
		var v struct {
			Name        string           `json:"name"`
			Input       *string          `json:"input"`
			InputBase64 *string          `json:"input_base64"`
			Events      []heroa.SSEEvent `json:"events"`
			LastEventID string           `json:"last_event_id_after"`
			RetryAfter  *int64           `json:"retry_after"`
		}
		readJSON(t, f, &v)
		var input []byte
		if v.InputBase64 != nil {
			input, _ = base64.StdEncoding.DecodeString(*v.InputBase64)
		} else {
			input = []byte(*v.Input)
		}
		for _, step := range []int{len(input) + 1, 1} {
			d := heroa.NewSSEDecoder("")
			got := []heroa.SSEEvent{}
			for i := 0; i < len(input); i += step {
				end := min(i+step, len(input))
				got = append(got, d.Feed(input[i:end])...)
			}
			d.Finish()
			want := append([]heroa.SSEEvent{}, v.Events...)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s (step %d): got %+v, want %+v", v.Name, step, got, want)
			}
			retry := int64(-1)
			if v.RetryAfter != nil {
				retry = *v.RetryAfter
			}
			if d.LastEventID() != v.LastEventID || d.Retry() != retry {
				t.Fatalf("%s: last id %q retry %d", v.Name, d.LastEventID(), d.Retry())
			}
		}
	}
}
