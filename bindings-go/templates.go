package heroa

/*
#include <stdlib.h>
#include "heroa.h"

extern void heroaGoTemplate(size_t user_data, HeroaRunContext *run);
extern void heroaGoComplete(size_t user_data, char *result, char *error);
extern void heroaGoFinished(size_t user_data, bool cancelled);
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// RunContext is one run of a template written in Go: the run's input (JSON), its
// id and its agent's, the spend so far, and Call — every skill call goes through
// the agent's policy envelope and promotion level.
type RunContext struct {
	Input   json.RawMessage
	RunID   string
	AgentID string
	mu      sync.Mutex
	native  *C.HeroaRunContext // nil once the run's loop is over
}

// SkillOutcome is what one skill call came to: Outcome is `executed` (Output holds
// the skill's result), `shadowed` (L0: recorded, not run), `blocked` (the envelope
// forbade it; Reason says why), `skipped` (an L2 write denied or expired; Reason)
// or `failed` (Error).
type SkillOutcome struct {
	Outcome string          `json:"outcome"`
	Output  json.RawMessage `json:"output,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// Executed reports whether the skill ran and returned Output.
func (o *SkillOutcome) Executed() bool { return o.Outcome == "executed" }

// Call calls skill with args (marshalled to JSON; nil for {}) under the agent's
// policy envelope and promotion level. Every outcome — blocked, shadowed, skipped,
// failed — is a *SkillOutcome the loop reacts to; the error is for a cancelled run
// (or ctx), bad args, or a loop that is over.
func (r *RunContext) Call(ctx context.Context, skill string, args any) (*SkillOutcome, error) {
	text := "{}"
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, &Error{Kind: KindInvalidArgument, Field: "args", Message: "args cannot be marshalled: " + err.Error()}
		}
		text = string(b)
	}
	cskill := C.CString(skill)
	defer C.free(unsafe.Pointer(cskill))
	cargs := C.CString(text)
	defer C.free(unsafe.Pointer(cargs))
	ch := make(chan answer, 1)
	h := newHandle(ch)
	r.mu.Lock()
	if r.native == nil {
		r.mu.Unlock()
		deleteHandle(h)
		return nil, &Error{Kind: KindFailedPrecondition, Message: "this run's loop is over: skills can be called only while it runs"}
	}
	C.heroa_run_context_call(r.native, cskill, cargs, C.HeroaCallback(C.heroaGoComplete), C.size_t(h))
	r.mu.Unlock()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		// The call goes on inside the run (its outcome is audited); this caller
		// stops waiting for it.
		return nil, contextError(skill, ctx.Err())
	}
	if a.err != nil {
		return nil, parseError(*a.err)
	}
	var out SkillOutcome
	if err := json.Unmarshal([]byte(*a.result), &out); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "a skill outcome does not decode: " + err.Error()}
	}
	return &out, nil
}

// CostUSD is the run's spend so far in USD, a decimal string.
func (r *RunContext) CostUSD() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.native == nil {
		return ""
	}
	return *goString(C.heroa_run_context_cost_usd(r.native))
}

// TemplateFunc runs a template (a run loop): what it returns (marshalled to JSON)
// is the run's output; an error fails the run. ctx is cancelled when the run is.
type TemplateFunc func(ctx context.Context, run *RunContext) (any, error)

// TemplateOptions describe a template.
type TemplateOptions struct {
	Description string
}

// RegisterTemplate registers (or replaces) template name, a run loop run by fn in
// this process (embedded client only); agents use it by name (RegisterAgent's
// Template):
//
//	client.RegisterTemplate("triage", func(ctx context.Context, run *heroa.RunContext) (any, error) {
//		out, err := run.Call(ctx, "crm:lookup", map[string]any{"email": "…"})
//		…
//	})
func (c *Client) RegisterTemplate(name string, fn TemplateFunc, opts ...TemplateOptions) error {
	if fn == nil {
		return &Error{Kind: KindInvalidArgument, Field: "fn", Message: "the template needs a function"}
	}
	var o TemplateOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cdesc *C.char
	if o.Description != "" {
		cdesc = C.CString(o.Description)
		defer C.free(unsafe.Pointer(cdesc))
	}
	return c.registerHost(fn, func(native *C.HeroaClient, h cgo.Handle) *C.char {
		return C.heroa_register_template(native, cname, cdesc, C.HeroaTemplateHandler(C.heroaGoTemplate), C.size_t(h))
	})
}

//export heroaGoTemplate
func heroaGoTemplate(user C.size_t, native *C.HeroaRunContext) {
	fn := cgo.Handle(user).Value().(TemplateFunc)
	go runTemplate(fn, native)
}

func runTemplate(fn TemplateFunc, native *C.HeroaRunContext) {
	var info struct {
		RunID   string          `json:"run_id"`
		AgentID string          `json:"agent_id"`
		Input   json.RawMessage `json:"input"`
	}
	_ = json.Unmarshal([]byte(*goString(C.heroa_run_context_info(native))), &info)
	run := &RunContext{Input: info.Input, RunID: info.RunID, AgentID: info.AgentID, native: native}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	C.heroa_run_context_on_finished(native, C.HeroaFinishedCallback(C.heroaGoFinished), C.size_t(onCancelled(cancel)))
	out, err := safely(func() (any, error) { return fn(ctx, run) })
	// The handle goes with the loop: a RunContext kept past it cannot reach it.
	run.mu.Lock()
	defer run.mu.Unlock()
	run.native = nil
	respond(out, err, "template", func(result, errText *C.char) {
		C.heroa_run_context_respond(native, result, errText)
	})
	C.heroa_run_context_free(native)
}
