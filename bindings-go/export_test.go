package heroa

// LiveHandles is how many cgo handles the package holds (the leak check).
func LiveHandles() int64 { return liveHandles.Load() }
