package heroa

/*
#include <stdlib.h>
#include "heroa.h"

extern void heroaGoPolicyOpened(size_t user_data, HeroaPolicyEngine *engine, char *error);
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"unsafe"
)

// PolicyEngine is a compiled policy envelope: the local pre-check, which gives the
// runtime's decision for a skill call without a round trip. An engine bound to an
// agent (Bind, or Policies.Precheck) decides that agent's calls with plain
// arguments, its fast path. Close releases it (a finalizer does too); do not
// Close an engine other goroutines still check with.
type PolicyEngine struct {
	native *C.HeroaPolicyEngine
	agent  *CheckAgent
	// the registered skills, by name (Policies.Precheck): a check may name only
	// the skill
	skills map[string]CheckSkill
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
	return engine(native, nil, nil), nil
}

func engine(native *C.HeroaPolicyEngine, agent *CheckAgent, skills map[string]CheckSkill) *PolicyEngine {
	e := &PolicyEngine{native: native, agent: agent, skills: skills}
	runtime.SetFinalizer(e, (*PolicyEngine).Close)
	return e
}

// Bind answers the same compiled envelope bound to agent: its checks may leave
// the agent out, and take the fast path.
func (e *PolicyEngine) Bind(agent CheckAgent) (*PolicyEngine, error) {
	if e.native == nil {
		return nil, closedEngine()
	}
	cs := [4]*C.char{C.CString(agent.ID), C.CString(agent.Name), C.CString(agent.Region), C.CString(agent.Promotion)}
	defer func() {
		for _, p := range cs {
			C.free(unsafe.Pointer(p))
		}
	}()
	var native *C.HeroaPolicyEngine
	if err := goString(C.heroa_policy_engine_bind(e.native, cs[0], cs[1], cs[2], cs[3], &native)); err != nil {
		return nil, parseError(*err)
	}
	runtime.KeepAlive(e)
	return engine(native, &agent, e.skills), nil
}

// Agent is the agent the engine is bound to (nil when unbound).
func (e *PolicyEngine) Agent() *CheckAgent { return e.agent }

func closedEngine() error {
	return &Error{Kind: KindFailedPrecondition, Message: "this policy engine is closed"}
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

// Check decides req. req.Agent may be left zero on a bound engine; on an engine
// from Policies.Precheck, req.Skill may give only the Name of a registered skill
// (its kind, whether external and its price are the registry's).
func (e *PolicyEngine) Check(req CheckRequest) (*Decision, error) {
	var out *C.char
	if _, err := e.decide(&req, &out); err != nil {
		return nil, err
	}
	var d Decision
	if err := json.Unmarshal([]byte(*goString(out)), &d); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "a decision does not decode: " + err.Error()}
	}
	return &d, nil
}

// Allows is Check's answer alone: whether the call may go ahead (the fastest form).
func (e *PolicyEngine) Allows(req CheckRequest) (bool, error) {
	return e.decide(&req, nil)
}

// decide checks req, writing the decision's JSON to *out when out is non-nil.
func (e *PolicyEngine) decide(req *CheckRequest, out **C.char) (bool, error) {
	if e.native == nil {
		return false, closedEngine()
	}
	defer runtime.KeepAlive(e)
	if req.Skill.Kind == "" {
		known, ok := e.skills[req.Skill.Name]
		if !ok {
			return false, &Error{Kind: KindInvalidArgument, Field: "skill.kind", Message: `skill.kind is required ("read" or "write"): ` + strconv.Quote(req.Skill.Name) + " is not a registered skill"}
		}
		req.Skill = known
	}
	if req.Agent != (CheckAgent{}) && (e.agent == nil || req.Agent != *e.agent) {
		return e.decideJSON(req, out)
	}
	var ctxJSON *C.char
	if len(req.Context) > 0 {
		b, err := json.Marshal(req.Context)
		if err != nil {
			return false, &Error{Kind: KindInvalidArgument, Field: "context", Message: err.Error()}
		}
		ctxJSON = C.CString(string(b))
		defer C.free(unsafe.Pointer(ctxJSON))
	}
	var allowed C.bool
	// The skill's name and kind cross as pointer and length into Go's own memory
	// (no copy; the library reads them only during the call).
	err := goString(C.heroa_policy_decide(e.native,
		(*C.uint8_t)(unsafe.Pointer(unsafe.StringData(req.Skill.Name))), C.size_t(len(req.Skill.Name)),
		(*C.uint8_t)(unsafe.Pointer(unsafe.StringData(req.Skill.Kind))), C.size_t(len(req.Skill.Kind)),
		C.bool(req.Skill.External), C.double(req.Skill.CostUSD), C.double(req.RunCostUSD), ctxJSON, &allowed, out))
	if err != nil {
		return false, parseError(*err)
	}
	return bool(allowed), nil
}

// decideJSON checks a request for an agent the engine is not bound to: the whole
// request crosses as JSON.
func (e *PolicyEngine) decideJSON(req *CheckRequest, out **C.char) (bool, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return false, &Error{Kind: KindInvalidArgument, Field: "context", Message: err.Error()}
	}
	creq := C.CString(string(b))
	defer C.free(unsafe.Pointer(creq))
	var text *C.char
	if errText := goString(C.heroa_policy_check(e.native, creq, &text)); errText != nil {
		return false, parseError(*errText)
	}
	var head struct {
		Allowed bool `json:"allowed"`
	}
	_ = json.Unmarshal([]byte(C.GoString(text)), &head)
	if out != nil {
		*out = text // Check decodes (and frees) it
	} else {
		C.heroa_string_free(text)
	}
	return head.Allowed, nil
}

//export heroaGoPolicyOpened
func heroaGoPolicyOpened(user C.size_t, native *C.HeroaPolicyEngine, errText *C.char) {
	sendOpening(user, native, errText)
}

// Precheck fetches the agent's envelope in force (a sub-agent's under every
// ancestor's, as the runtime checks it), compiles it here and binds it to the
// agent and to the registered skills: checks that give the runtime's decision
// without a round trip, naming only the skill:
//
//	engine, err := client.Policies.Precheck(ctx, agent.ID)
//	ok, err := engine.Allows(heroa.CheckRequest{Skill: heroa.CheckSkill{Name: "crm:lookup"}, RunCostUSD: 0.1})
//
// nil (and no error) when the agent has no policy: the runtime then denies every call.
func (p *Policies) Precheck(ctx context.Context, agentID string) (*PolicyEngine, error) {
	cid := C.CString(agentID)
	defer C.free(unsafe.Pointer(cid))
	ch := make(chan opening[*C.HeroaPolicyEngine], 1)
	h := newHandle(ch)
	if err := p.c.withNative(func(native *C.HeroaClient) {
		C.heroa_policy_precheck(native, cid, C.HeroaPolicyCallback(C.heroaGoPolicyOpened), C.size_t(h))
	}); err != nil {
		deleteHandle(h)
		return nil, err
	}
	native, err := awaitOpening(ctx, "policies.precheck", ch, func(e *C.HeroaPolicyEngine) { C.heroa_policy_engine_free(e) })
	if err != nil || native == nil {
		return nil, err
	}
	var agent CheckAgent
	_ = json.Unmarshal([]byte(*goString(C.heroa_policy_engine_agent(native))), &agent)
	e := engine(native, &agent, nil)
	skills, err := p.c.Workspace.Skills(ctx)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.skills = make(map[string]CheckSkill, len(skills))
	for _, s := range skills {
		cost, _ := strconv.ParseFloat(s.CostUSD, 64)
		e.skills[s.Name] = CheckSkill{Name: s.Name, Kind: s.Kind, External: s.External, CostUSD: cost}
	}
	return e, nil
}
