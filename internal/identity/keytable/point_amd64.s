//go:build !purego

// Bodyless declarations in point_amd64.go are nistec's assembly, reached by go:linkname.
