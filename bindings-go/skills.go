package heroa

/*
#include <stdlib.h>
#include "heroa.h"

extern void heroaGoSkill(size_t user_data, HeroaSkillCall *call);
extern void heroaGoFinished(size_t user_data, bool cancelled);
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// SkillKind is what a skill does: Read, or Write (held at L2, shadowed at L0).
type SkillKind string

// Skill kinds.
const (
	Read  SkillKind = "read"
	Write SkillKind = "write"
)

// SkillCall is one call of a skill written in Go: the arguments from the run loop
// (as JSON), the calling agent and run, and read access to the vault while it runs.
type SkillCall struct {
	Args    json.RawMessage
	AgentID string
	RunID   string
	mu      sync.Mutex
	native  *C.HeroaSkillCall // nil once the call is over
}

// Secret reads the vault value key visible to the agent — only while the call runs.
// It is scrubbed from everything the run records.
func (c *SkillCall) Secret(key string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.native == nil {
		return "", &Error{Kind: KindFailedPrecondition, Message: "vault values can be read only inside a skill, while it runs"}
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var out *C.char
	if err := goString(C.heroa_skill_call_secret(c.native, ckey, &out)); err != nil {
		return "", parseError(*err)
	}
	return *goString(out), nil
}

// SkillFunc runs a skill: what it returns (marshalled to JSON) is the skill's
// output; an error fails this one call (never the process). ctx is cancelled when
// the run is cancelled or the call times out.
type SkillFunc func(ctx context.Context, call *SkillCall) (any, error)

// SkillOptions are a skill's price (CostUSD, a decimal string; "" for 0), whether it
// reaches outside (External) and its Description.
type SkillOptions struct {
	CostUSD     string
	External    bool
	Description string
}

// RegisterSkill registers (or replaces) skill name run by fn in this process
// (embedded client only):
//
//	client.RegisterSkill("crm:lookup", heroa.Read, func(ctx context.Context, call *heroa.SkillCall) (any, error) { … })
func (c *Client) RegisterSkill(name string, kind SkillKind, fn SkillFunc, opts ...SkillOptions) error {
	if fn == nil {
		return &Error{Kind: KindInvalidArgument, Field: "fn", Message: "the skill needs a function"}
	}
	var o SkillOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	ckind := C.CString(string(kind))
	defer C.free(unsafe.Pointer(ckind))
	var ccost, cdesc *C.char
	if o.CostUSD != "" {
		ccost = C.CString(o.CostUSD)
		defer C.free(unsafe.Pointer(ccost))
	}
	if o.Description != "" {
		cdesc = C.CString(o.Description)
		defer C.free(unsafe.Pointer(cdesc))
	}
	return c.registerHost(fn, func(native *C.HeroaClient, h cgo.Handle) *C.char {
		return C.heroa_register_skill(native, cname, ckind, ccost, C.bool(o.External), cdesc, C.HeroaSkillHandler(C.heroaGoSkill), C.size_t(h))
	})
}

// registerHost registers fn (a skill's or a template's) through register, with a
// handle that lives as long as the client (a replaced one's too): Close frees them.
func (c *Client) registerHost(fn any, register func(*C.HeroaClient, cgo.Handle) *C.char) error {
	h := newHandle(fn)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.native == nil {
		deleteHandle(h)
		return c.closedError()
	}
	if err := goString(register(c.native, h)); err != nil {
		deleteHandle(h)
		return parseError(*err)
	}
	c.handles = append(c.handles, h)
	return nil
}

//export heroaGoSkill
func heroaGoSkill(user C.size_t, native *C.HeroaSkillCall) {
	fn := cgo.Handle(user).Value().(SkillFunc)
	go runSkill(fn, native)
}

//export heroaGoFinished
func heroaGoFinished(user C.size_t, cancelled C.bool) {
	h := cgo.Handle(user)
	f := h.Value().(func(bool))
	deleteHandle(h)
	f(bool(cancelled))
}

// onCancelled is the handle of a finished-callback that calls cancel when the
// call (or the run) was abandoned.
func onCancelled(cancel context.CancelFunc) cgo.Handle {
	return newHandle(func(cancelled bool) {
		if cancelled {
			cancel()
		}
	})
}

func runSkill(fn SkillFunc, native *C.HeroaSkillCall) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	C.heroa_skill_call_on_finished(native, C.HeroaFinishedCallback(C.heroaGoFinished), C.size_t(onCancelled(cancel)))
	var info struct {
		AgentID string `json:"agent_id"`
		RunID   string `json:"run_id"`
	}
	_ = json.Unmarshal([]byte(*goString(C.heroa_skill_call_info(native))), &info)
	call := &SkillCall{
		Args:    json.RawMessage(*goString(C.heroa_skill_call_args(native))),
		AgentID: info.AgentID,
		RunID:   info.RunID,
		native:  native,
	}
	out, err := safely(func() (any, error) { return fn(ctx, call) })
	// The handle goes with the call: a SkillCall kept past it cannot reach it.
	call.mu.Lock()
	defer call.mu.Unlock()
	call.native = nil
	respond(out, err, "skill", func(result, errText *C.char) {
		C.heroa_skill_call_respond(native, result, errText)
	})
	C.heroa_skill_call_free(native)
}

// respond hands out (as JSON) or err to send, the answer of a skill or a template.
func respond(out any, err error, what string, send func(result, errText *C.char)) {
	if err == nil {
		b, merr := json.Marshal(out)
		if merr == nil {
			cres := C.CString(string(b))
			defer C.free(unsafe.Pointer(cres))
			send(cres, nil)
			return
		}
		err = fmt.Errorf("the %s's result is not JSON: %w", what, merr)
	}
	cerr := C.CString(err.Error())
	defer C.free(unsafe.Pointer(cerr))
	send(nil, cerr)
}

// safely runs fn, turning a panic into its error.
func safely(fn func() (any, error)) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}
