package heroa

// The cgo layer: the C ABI of the shared bridge (include/heroa.h, from the heroa-ffi
// crate), linked as one static library built by build.sh (`go generate`).
//
// Every asynchronous call passes a cgo.Handle to a channel as the callback's user
// data; the library calls heroaGoComplete once, on one of its own threads, and the
// handle is deleted there. A context's cancellation calls heroa_cancel.

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo LDFLAGS: -L${SRCDIR}/lib -lheroa_ffi -lm -ldl -lpthread
#include <stdlib.h>
#include "heroa.h"

extern void heroaGoComplete(size_t user_data, char *result, char *error);
extern void heroaGoStreamOpened(size_t user_data, HeroaStream *stream, char *error);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

//go:generate bash build.sh

// liveHandles counts the cgo handles this package holds: the tests' leak check
// reads it (export_test.go).
var liveHandles atomic.Int64

// newHandle is cgo.NewHandle, counted.
func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

// deleteHandle is h.Delete, counted.
func deleteHandle(h cgo.Handle) {
	liveHandles.Add(-1)
	h.Delete()
}

// answer is what the library hands back: a result, an error envelope, or neither
// (the end of a stream).
type answer struct {
	result *string
	err    *string
}

func goString(p *C.char) *string {
	if p == nil {
		return nil
	}
	s := C.GoString(p)
	C.heroa_string_free(p)
	return &s
}

//export heroaGoComplete
func heroaGoComplete(user C.size_t, result *C.char, errText *C.char) {
	h := cgo.Handle(user)
	ch := h.Value().(chan answer)
	deleteHandle(h)
	ch <- answer{result: goString(result), err: goString(errText)}
}

// opening is what an asynchronous open hands back: the handle (nil on failure, or
// when there is none) or the error envelope.
type opening[P comparable] struct {
	handle P // a C handle pointer
	err    *string
}

// sendOpening delivers an open's result to the channel behind user.
func sendOpening[P comparable](user C.size_t, handle P, errText *C.char) {
	h := cgo.Handle(user)
	ch := h.Value().(chan opening[P])
	deleteHandle(h)
	ch <- opening[P]{handle: handle, err: goString(errText)}
}

// awaitOpening waits for an open (op) to end. When ctx ends first, the handle
// still arrives later: free releases it then.
func awaitOpening[P comparable](ctx context.Context, op string, ch chan opening[P], free func(P)) (P, error) {
	var none P
	select {
	case o := <-ch:
		if o.err != nil {
			return none, parseError(*o.err)
		}
		return o.handle, nil
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.handle != none {
				free(o.handle)
			}
		}()
		return none, contextError(op, ctx.Err())
	}
}

//export heroaGoStreamOpened
func heroaGoStreamOpened(user C.size_t, stream *C.HeroaStream, errText *C.char) {
	sendOpening(user, stream, errText)
}

// callRaw runs operation op with args (a JSON object, the wire's names) and answers
// the answer's JSON text. ctx's cancellation ends the call with a *Error of kind
// cancelled (errors.Is(err, context.Canceled) holds too).
func (c *Client) callRaw(ctx context.Context, op, args string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", contextError(op, err)
	}
	cop := C.CString(op)
	defer C.free(unsafe.Pointer(cop))
	cargs := C.CString(args)
	defer C.free(unsafe.Pointer(cargs))
	var cancel *C.HeroaCancel
	if ctx.Done() != nil {
		cancel = C.heroa_cancel_new()
		defer C.heroa_cancel_free(cancel)
	}
	ch := make(chan answer, 1)
	h := newHandle(ch)
	err := c.withNative(func(native *C.HeroaClient) {
		C.heroa_call(native, cop, cargs, cancel, C.HeroaCallback(C.heroaGoComplete), C.size_t(h))
	})
	if err != nil {
		deleteHandle(h)
		return "", err
	}
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		C.heroa_cancel(cancel)
		a = <-ch
		if a.err != nil {
			return "", contextError(op, ctx.Err())
		}
	}
	if a.err != nil {
		return "", parseError(*a.err)
	}
	if a.result == nil {
		return "null", nil
	}
	return *a.result, nil
}

// withNative runs start with the client's handle, under the read lock: the library
// copies what a call needs before it returns, so the client may be closed while the
// call is in flight. A closed (or never opened) client answers why instead.
func (c *Client) withNative(start func(*C.HeroaClient)) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.native == nil {
		return c.closedError()
	}
	start(c.native)
	return nil
}

// closedError is why a client without a native handle cannot call.
func (c *Client) closedError() error {
	if c.err != nil {
		return c.err
	}
	return &Error{Kind: KindFailedPrecondition, Message: "this client is closed"}
}
