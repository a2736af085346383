package wire

import "testing"

var announceCases = []struct {
	payload string
	ok      bool
}{
	{`{"v":1,"kind":"announce","port":8080,"ttl":180}`, true},
	{`{"v":1,"kind":"withdraw"}`, true},
	{`{"v":1,"kind":"announce","port":8080,"ttl":180,"future":"x"}`, true},
	{`{"v":2,"kind":"announce","port":8080,"ttl":180}`, false},
	{`{"v":1,"kind":"announce","port":0,"ttl":180}`, false},
	{`{"v":1,"kind":"announce","port":70000,"ttl":180}`, false},
	{`{"v":1,"kind":"announce","port":80,"ttl":0}`, false},
	{`{"v":1,"kind":"shout","port":80,"ttl":5}`, false},
	{`nonsense`, false},
}

func TestDecodeAnnouncement(t *testing.T) {
	for _, tc := range announceCases {
		_, err := DecodeAnnouncement([]byte(tc.payload))
		if (err == nil) != tc.ok {
			t.Errorf("DecodeAnnouncement(%s) error = %v, want ok %v", tc.payload, err, tc.ok)
		}
	}
	a := Announcement{Version: 1, Kind: KindAnnounce, Port: 8080, TTL: 60}
	got, err := DecodeAnnouncement(a.Encode())
	if err != nil || got != a {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, a)
	}
}

func FuzzDecodeAnnouncement(f *testing.F) {
	for _, tc := range announceCases {
		f.Add([]byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := DecodeAnnouncement(payload)
		if err == nil && a.Kind == KindAnnounce && (a.Port == 0 || a.TTL < 1) {
			t.Fatalf("accepted invalid announcement %+v", a)
		}
	})
}
