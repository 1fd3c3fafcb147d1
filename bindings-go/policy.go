package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// PolicyEngine is a compiled policy envelope: the local pre-check, which gives the
// runtime's decision for a skill call without a round trip. Close releases it (a
// finalizer does too).
type PolicyEngine struct {
	native *C.HeroaPolicyEngine
}

// Document is one policy document: an id (decisions name policies
// `<id>#<index in the document>`) and its Cedar text (the Heroa dialect).
type Document struct {
	ID   string
	Text string
}

// NewPolicyEngine compiles documents; an invalid one is a *Error of kind
// invalid_argument, field document.
func NewPolicyEngine(documents ...Document) (*PolicyEngine, error) {
	pairs := make([][2]string, len(documents))
	for i, d := range documents {
		pairs[i] = [2]string{d.ID, d.Text}
	}
	b, _ := json.Marshal(pairs)
	cdocs := C.CString(string(b))
	defer C.free(unsafe.Pointer(cdocs))
	var native *C.HeroaPolicyEngine
	if err := goString(C.heroa_policy_engine_new(cdocs, &native)); err != nil {
		return nil, parseError(*err)
	}
	e := &PolicyEngine{native: native}
	runtime.SetFinalizer(e, (*PolicyEngine).Close)
	return e, nil
}

// Close releases the engine. Idempotent.
func (e *PolicyEngine) Close() {
	if e.native != nil {
		C.heroa_policy_engine_free(e.native)
		e.native = nil
	}
}

// CheckAgent is the calling agent of a check.
type CheckAgent struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Region    string `json:"region"`
	Promotion string `json:"promotion"`
}

// CheckSkill is the skill being invoked: Kind read or write, its price in USD.
type CheckSkill struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	External bool    `json:"external"`
	CostUSD  float64 `json:"cost_usd"`
}

// CheckRequest is one skill call to decide: the run's spend before it and extra
// Cedar context.
type CheckRequest struct {
	Agent      CheckAgent     `json:"agent"`
	Skill      CheckSkill     `json:"skill"`
	RunCostUSD float64        `json:"run_cost_usd"`
	Context    map[string]any `json:"context,omitempty"`
}

// PolicyReason is a policy that determined a decision.
type PolicyReason struct {
	PolicyID   string `json:"policy_id"`
	Effect     string `json:"effect"`
	DocumentID string `json:"document_id"`
	Line       int    `json:"line"`
}

// Decision is the answer of a check: Allowed, the deciding Reasons, evaluation
// Errors (a policy that errors is skipped, as in Cedar).
type Decision struct {
	Allowed  bool           `json:"allowed"`
	Reasons  []PolicyReason `json:"reasons"`
	Errors   []string       `json:"errors"`
	Skill    string         `json:"skill"`
	DeniedBy *struct {
		AgentID    string `json:"agent_id"`
		AgentName  string `json:"agent_name"`
		NoEnvelope bool   `json:"no_envelope"`
	} `json:"denied_by,omitempty"`
}

// Check decides req.
func (e *PolicyEngine) Check(req CheckRequest) (*Decision, error) {
	if e.native == nil {
		return nil, &Error{Kind: KindFailedPrecondition, Message: "this policy engine is closed"}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, &Error{Kind: KindInvalidArgument, Field: "context", Message: err.Error()}
	}
	creq := C.CString(string(b))
	defer C.free(unsafe.Pointer(creq))
	var out *C.char
	if errText := goString(C.heroa_policy_check(e.native, creq, &out)); errText != nil {
		return nil, parseError(*errText)
	}
	runtime.KeepAlive(e)
	var d Decision
	if err := json.Unmarshal([]byte(*goString(out)), &d); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "a decision does not decode: " + err.Error()}
	}
	return &d, nil
}
