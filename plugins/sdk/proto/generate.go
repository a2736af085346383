// Package proto holds the protobuf definitions of the plugin contract's
// control plane (plugin.proto, host.proto) and the Go code generated from
// them. The generated files are committed; regenerate them with
//
//	go generate ./plugins/sdk/proto
//
// which needs protoc (Debian: protobuf-compiler) and uses the
// protoc-gen-go and protoc-gen-go-grpc versions pinned as tools in go.mod.
package proto

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto host.proto"
