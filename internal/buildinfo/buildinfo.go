// Package buildinfo reports which build of Chorus is running: the release
// version stamped at link time, the Go toolchain and the platform. Every
// node serves it on /version and `chorus version` prints it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is stamped by the build: -ldflags "-X github.com/chorusledger/chorus/internal/buildinfo.version=v0.1.0".
var version = ""

// Info describes one build.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the running build's information. Without a stamped version it
// falls back to the module version recorded by the Go toolchain, and then
// to "devel".
func Get() Info {
	v := version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		} else {
			v = "devel"
		}
	}
	return Info{Version: v, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// String formats the information on one line.
func (i Info) String() string {
	return fmt.Sprintf("chorus %s (%s, %s)", i.Version, i.GoVersion, i.Platform)
}
