package heroa

// LiveHandles is how many cgo handles the package holds (the leak check).
func LiveHandles() int64 { return liveHandles.Load() }

// CoreDecode is the core's SSE decoder over the C ABI (the differential test).
func CoreDecode(input []byte, step int) ([]SSEEvent, string, int64) { return coreDecode(input, step) }
