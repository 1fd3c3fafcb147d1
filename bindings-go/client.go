// Package heroa is the Heroa SDK for Go: deploy apps, services and sub-agents as a
// tool call, and operate agents (vault, Cedar policy envelopes, promotion levels,
// runs, audit) — on the control plane embedded in this process (no account needed)
// or against a remote one (`heroa serve`).
//
// It is a thin layer over the core's C ABI (the shared bridge every binding uses):
// the same operations, validation, answers and errors as Rust, Python and Node.
//
//	client, err := heroa.Embedded("")            // in memory; a path persists
//	agent, err := client.Agents.Register(ctx, heroa.RegisterAgent{Name: "lead-research", Region: "us-east"})
//	worker, err := client.Deploy(ctx, heroa.DeployInput{Mode: heroa.ModeAgent, Template: "batch-processor", TTL: "30m"})
//
// Build the static library first: `go generate ./...` (or bash build.sh).
package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Client is a client of the embedded runtime or of a remote control plane. It is
// safe for concurrent use. Close releases it (a finalizer does too).
type Client struct {
	mu     sync.RWMutex
	native *C.HeroaClient
	err    error // why the client could not open (NewClient)
	// handles of the Go functions registered as skills, freed by Close
	handles []cgo.Handle

	Agents      *Agents
	Vault       *Vault
	Policies    *Policies
	Runs        *Runs
	Deployments *Deployments
	Approvals   *Approvals
	Webhooks    *Webhooks
	Workspace   *WorkspaceAPI
}

type options struct {
	apiKey  string
	baseURL string
	path    string
}

// Option configures NewClient.
type Option func(*options)

// WithAPIKey sets the API key of a remote control plane (default HEROA_API_KEY).
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithBaseURL sets the remote control plane's URL (default HEROA_BASE_URL).
func WithBaseURL(url string) Option { return func(o *options) { o.baseURL = url } }

// WithPath persists the embedded runtime at path (default HEROA_DATA; else memory).
func WithPath(path string) Option { return func(o *options) { o.path = path } }

// NewClient opens a client. Its arguments are options — WithBaseURL, WithAPIKey,
// WithPath — or, as the deploy guide writes it, the API key itself:
//
//	client := heroa.NewClient(os.Getenv("HEROA_API_KEY"))
//	client := heroa.NewClient(heroa.WithBaseURL(u), heroa.WithAPIKey(k))
//
// A remote control plane when a base URL is given (or HEROA_BASE_URL is set; the
// API key is then required), else the embedded runtime (persisted at HEROA_DATA,
// or in memory). A client that could not open answers why from Err and from every
// call; Embedded, Remote and FromEnv answer the error at once.
func NewClient(opts ...any) *Client {
	c, err := open(opts)
	if err != nil {
		return broken(err)
	}
	return c
}

func open(opts []any) (*Client, error) {
	o := options{apiKey: os.Getenv("HEROA_API_KEY"), baseURL: os.Getenv("HEROA_BASE_URL"), path: os.Getenv("HEROA_DATA")}
	for i, opt := range opts {
		switch v := opt.(type) {
		case Option:
			v(&o)
		case string:
			o.apiKey = v
		default:
			return nil, &Error{Kind: KindInvalidArgument, Field: "opts", Message: fmt.Sprintf("argument %d must be an Option (WithAPIKey, WithBaseURL, WithPath) or the API key; got %T", i, opt)}
		}
	}
	if o.baseURL != "" {
		if o.apiKey == "" {
			return nil, &Error{Kind: KindInvalidArgument, Field: "api_key", Message: "an API key is required for a remote control plane (WithAPIKey or HEROA_API_KEY)"}
		}
		return Remote(o.baseURL, o.apiKey)
	}
	return Embedded(o.path)
}

// broken is a client that answers err from every call.
func broken(err error) *Client {
	c := &Client{err: err}
	c.resources()
	return c
}

// Err is why the client could not open (nil when it did).
func (c *Client) Err() error { return c.err }

// FromEnv opens the client the environment names (see NewClient).
func FromEnv() (*Client, error) { return open(nil) }

// Embedded opens the control plane in this process, persisted at path (memory for "").
func Embedded(path string) (*Client, error) {
	var cpath *C.char
	if path != "" {
		cpath = C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
	}
	var native *C.HeroaClient
	if err := goString(C.heroa_client_embedded(cpath, &native)); err != nil {
		return nil, parseError(*err)
	}
	return wrap(native), nil
}

// Remote opens a client of the control plane at baseURL.
func Remote(baseURL, apiKey string) (*Client, error) {
	curl := C.CString(baseURL)
	defer C.free(unsafe.Pointer(curl))
	ckey := C.CString(apiKey)
	defer C.free(unsafe.Pointer(ckey))
	var native *C.HeroaClient
	if err := goString(C.heroa_client_remote(curl, ckey, &native)); err != nil {
		return nil, parseError(*err)
	}
	return wrap(native), nil
}

func wrap(native *C.HeroaClient) *Client {
	c := &Client{native: native}
	c.resources()
	runtime.SetFinalizer(c, (*Client).Close)
	return c
}

func (c *Client) resources() {
	c.Agents = &Agents{c}
	c.Vault = &Vault{c}
	c.Policies = &Policies{c}
	c.Runs = &Runs{c}
	c.Deployments = &Deployments{c}
	c.Approvals = &Approvals{c}
	c.Webhooks = &Webhooks{c}
	c.Workspace = &WorkspaceAPI{c}
}

// Close releases the client; calls in flight finish. Idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.native != nil {
		C.heroa_client_free(c.native)
		c.native = nil
	}
	for _, h := range c.handles {
		deleteHandle(h)
	}
	c.handles = nil
	return nil
}

// Call runs any operation of the catalogue by name with args (marshalled to JSON,
// the wire's snake_case names) and decodes the answer into out (when non-nil).
func (c *Client) Call(ctx context.Context, op string, args any, out any) error {
	text := "{}"
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return &Error{Kind: KindInvalidArgument, Field: "args", Message: "args cannot be marshalled: " + err.Error()}
		}
		text = string(b)
	}
	answer, err := c.callRaw(ctx, op, text)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(answer), out); err != nil {
		return &Error{Kind: KindInternal, Message: "the answer of " + op + " does not decode: " + err.Error()}
	}
	return nil
}

// Version is the core's version.
func Version() string {
	v := goString(C.heroa_version())
	return *v
}

var (
	defaultOnce   sync.Once
	defaultClient *Client
)

// DefaultClient is the client the environment names (see NewClient), opened once
// for the process: the one the package-level Deploy uses.
func DefaultClient() (*Client, error) {
	defaultOnce.Do(func() { defaultClient = NewClient() })
	return defaultClient, defaultClient.Err()
}

// Deploy stands up an app, a service or a sub-agent on the DefaultClient — the
// deploy guide's one call, for code without a client of its own:
//
//	worker, err := heroa.Deploy(ctx, heroa.DeployOptions{Mode: heroa.ModeAgent, Template: "batch-processor", TTL: "30m"})
func Deploy(ctx context.Context, in DeployInput) (*Deployment, error) {
	c, err := DefaultClient()
	if err != nil {
		return nil, err
	}
	return c.Deploy(ctx, in)
}
