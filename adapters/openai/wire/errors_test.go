package wire

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestErrorBody(t *testing.T) {
	e := NotFoundModel("gpt-x")
	want := `{"error":{"message":"The model ` + "`gpt-x`" + ` does not exist or you do not have access to it.","type":"invalid_request_error","param":"model","code":"model_not_found"}}`
	if got := string(e.Body()); got != want {
		t.Errorf("Body() = %s, want %s", got, want)
	}
	rec := httptest.NewRecorder()
	BadGateway("down").Write(rec)
	if rec.Code != 502 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Write: status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if got, want := rec.Body.String(), `{"error":{"message":"down","type":"server_error","param":null,"code":"upstream_unavailable"}}`+"\n"; got != want {
		t.Errorf("Write body = %s, want %s", got, want)
	}
	if got := string(BadGateway("x").EventFrame()); got[:6] != "data: " || got[len(got)-2:] != "\n\n" {
		t.Errorf("EventFrame() = %q", got)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {61 * time.Second, "61"}} {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
