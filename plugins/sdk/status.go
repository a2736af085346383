package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus maps an error returned by an implementation to a gRPC status:
// the one place where server-side errors cross the process boundary.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, errors.ErrUnsupported):
		code = codes.Unimplemented
	}
	return status.Error(code, err.Error())
}

// fromStatus maps a gRPC error back to the contract's errors: the one
// place where client-side errors come back across the boundary. op names
// the call.
func fromStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("sdk: %s: %w", op, err)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("sdk: %s: %w", op, ErrNotFound)
	case codes.Canceled:
		return fmt.Errorf("sdk: %s: %w", op, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("sdk: %s: %w", op, context.DeadlineExceeded)
	case codes.Unimplemented:
		return fmt.Errorf("sdk: %s: %s: %w", op, st.Message(), errors.ErrUnsupported)
	case codes.InvalidArgument:
		return fmt.Errorf("sdk: %s: invalid argument: %s", op, st.Message())
	case codes.Unavailable:
		return fmt.Errorf("sdk: %s: plugin connection unavailable: %s", op, st.Message())
	default:
		return fmt.Errorf("sdk: %s: %s", op, st.Message())
	}
}
