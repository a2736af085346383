// Command mail is the mail plugin of the mycelium node: SMTP submission,
// IMAP and node-to-node delivery over the mesh. See adapters/mail and
// docs/mail.md.
package main

import (
	"github.com/mycelium-go/mycelium/adapters/mail"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func main() { sdk.Serve(mail.New(sdk.NewLogger())) }
