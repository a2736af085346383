package wire

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ReadRequest reads a generation request body of at most limit bytes and
// peeks at it. The error is ready to write: 413 for a body over the
// limit, 400 for one that is not a JSON object or has no model.
func ReadRequest(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, Request, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, Request{}, &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidRequest,
				Code: CodeBodyTooLarge, Message: fmt.Sprintf("Request body larger than %d bytes.", limit)}
		}
		return nil, Request{}, BadRequest("", "", "Could not read the request body: "+err.Error())
	}
	req, err := PeekRequest(body)
	if err != nil {
		return nil, req, BadRequest(CodeInvalidJSON, "", "We could not parse the JSON body of your request: "+err.Error())
	}
	if req.Model == "" {
		return nil, req, BadRequest("", "model", "You must provide a model parameter.")
	}
	return body, req, nil
}
