// Command webdav is the mycelium WebDAV file-share plugin: a private file
// tree per identity (overlay peers by key, local users by password) and
// shared folders between them, mountable from Finder, Windows, davfs2 and
// rclone. The node starts it; accounts are managed with
// `mycelium webdav adduser|passwd|deluser|list`. See docs/webdav.md.
package main

import (
	"github.com/mycelium-go/mycelium/adapters/webdav"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// version is set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() { sdk.Serve(webdav.New(version, sdk.NewLogger())) }
