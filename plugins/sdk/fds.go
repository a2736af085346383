package sdk

// Inherited descriptors. The host passes a plugin these files in
// exec.Cmd.ExtraFiles, in this order, and sets EnvFDs to FDLayoutVersion.
// See docs/plugins.md.
const (
	// FDDataListener is the data socket: a listening unix stream socket.
	// The host dials its path once per spliced connection and writes the
	// preamble first.
	FDDataListener = 3
	// FDHandoff is the plugin's end of a unix socket pair (SOCK_SEQPACKET;
	// SOCK_DGRAM on macOS). Each message is one preamble, with the
	// connection's descriptor attached as SCM_RIGHTS.
	FDHandoff = 4
	// FDLifeline is the read end of a pipe whose write end only the host
	// holds. EOF on it means the host died: the plugin exits.
	FDLifeline = 5

	// EnvFDs names the environment variable that says the descriptors
	// above are present, and in which layout.
	EnvFDs = "MYCELIUM_PLUGIN_FDS"
	// FDLayoutVersion is the value of EnvFDs for the layout above.
	FDLayoutVersion = "1"
	// EnvLogLevel names the environment variable holding the plugin's log
	// level ("debug", "info", "warn" or "error"); NewLogger reads it.
	EnvLogLevel = "MYCELIUM_PLUGIN_LOG_LEVEL"
)
