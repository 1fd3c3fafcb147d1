package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// coreDecode decodes input with the core's decoder over the C ABI, fed in chunks
// of step bytes, then finished: the events, the last event id and the retry. The
// differential test holds SSEDecoder to it (export_test.go).
func coreDecode(input []byte, step int) ([]SSEEvent, string, int64) {
	d := C.heroa_sse_decoder_new(nil)
	defer C.heroa_sse_decoder_free(d)
	events := []SSEEvent{}
	for i := 0; i < len(input); i += step {
		chunk := input[i:min(i+step, len(input))]
		text := goString(C.heroa_sse_decoder_feed(d, (*C.uint8_t)(unsafe.Pointer(&chunk[0])), C.size_t(len(chunk))))
		var got []SSEEvent
		_ = json.Unmarshal([]byte(*text), &got)
		events = append(events, got...)
	}
	C.heroa_sse_decoder_finish(d)
	return events, *goString(C.heroa_sse_decoder_last_event_id(d)), int64(C.heroa_sse_decoder_retry(d))
}
