package heroa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind is the stable kind of an error, the core's taxonomy.
type Kind string

// The kinds of error.
const (
	KindInvalidArgument    Kind = "invalid_argument"
	KindUnauthenticated    Kind = "unauthenticated"
	KindPermissionDenied   Kind = "permission_denied"
	KindNotFound           Kind = "not_found"
	KindConflict           Kind = "conflict"
	KindFailedPrecondition Kind = "failed_precondition"
	KindTierLimit          Kind = "tier_limit"
	KindPayloadTooLarge    Kind = "payload_too_large"
	KindRateLimited        Kind = "rate_limited"
	KindTimeout            Kind = "timeout"
	KindUnavailable        Kind = "unavailable"
	KindTransport          Kind = "transport"
	KindCancelled          Kind = "cancelled"
	KindInternal           Kind = "internal"
)

// Error is every failure of a call: its Kind, a message for people (never a
// secret), the request Field at fault when one is (the wire's name, e.g.
// "approval_window"), Details and RetryAfter (seconds) when the server said.
// Match it with errors.Is(err, heroa.ErrNotFound) or errors.As(err, &herr).
type Error struct {
	Kind       Kind            `json:"kind"`
	Message    string          `json:"message"`
	Field      string          `json:"field,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"`
	RetryAfter float64         `json:"retry_after,omitempty"`
	cause      error
}

func (e *Error) Error() string {
	if e.Field != "" && !startsWith(e.Message, e.Field) {
		return fmt.Sprintf("heroa: %s: %s: %s", e.Kind, e.Field, e.Message)
	}
	return fmt.Sprintf("heroa: %s: %s", e.Kind, e.Message)
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// Is matches another *Error by kind (the sentinels ErrNotFound, … are kinds only).
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Kind == e.Kind && (t.Message == "" || t.Message == e.Message)
	}
	return false
}

// Unwrap gives the context's error for a call ended by its context.
func (e *Error) Unwrap() error { return e.cause }

// Sentinels for errors.Is, one per kind.
var (
	ErrInvalidArgument    = &Error{Kind: KindInvalidArgument}
	ErrUnauthenticated    = &Error{Kind: KindUnauthenticated}
	ErrPermissionDenied   = &Error{Kind: KindPermissionDenied}
	ErrNotFound           = &Error{Kind: KindNotFound}
	ErrConflict           = &Error{Kind: KindConflict}
	ErrFailedPrecondition = &Error{Kind: KindFailedPrecondition}
	ErrTierLimit          = &Error{Kind: KindTierLimit}
	ErrPayloadTooLarge    = &Error{Kind: KindPayloadTooLarge}
	ErrRateLimited        = &Error{Kind: KindRateLimited}
	ErrTimeout            = &Error{Kind: KindTimeout}
	ErrUnavailable        = &Error{Kind: KindUnavailable}
	ErrTransport          = &Error{Kind: KindTransport}
	ErrCancelled          = &Error{Kind: KindCancelled}
	ErrInternal           = &Error{Kind: KindInternal}
)

// parseError reads the bridge's error envelope.
func parseError(text string) error {
	var e Error
	if err := json.Unmarshal([]byte(text), &e); err != nil || e.Kind == "" {
		return &Error{Kind: KindInternal, Message: "an unreadable error from the core: " + text}
	}
	return &e
}

// contextError is the error of a call ended by its context.
func contextError(op string, cause error) error {
	kind := KindCancelled
	if errors.Is(cause, context.DeadlineExceeded) {
		kind = KindTimeout
	}
	return &Error{Kind: kind, Message: op + " was ended by its context: " + cause.Error(), cause: cause}
}
