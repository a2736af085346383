// Command dav is the CalDAV and CardDAV plugin of the mycelium node: see
// adapters/dav and docs/dav.md.
package main

import (
	"fmt"
	"os"

	"github.com/mycelium-go/mycelium/adapters/dav"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func main() {
	a, err := dav.New(sdk.NewLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sdk.Serve(a)
}
