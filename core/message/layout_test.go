package message

import "testing"

// referenceAccepts applies the reference receiver's v0.7.10 chunk rules
// (spec §7.3 and errata 2) to a layout: every chunk at least 250 bytes
// unless it sits at index ceil(len/250)-1, and as many chunks as slots
// pre-allocated (ceil(len/1300)).
func referenceAccepts(l layout) bool {
	if l.count != (l.n+1299)/1300 {
		return false
	}
	last := (l.n+249)/250 - 1
	for i := range l.count {
		if _, size := l.chunk(i); size < 250 && i != last {
			return false
		}
	}
	return true
}

func TestLayout(t *testing.T) {
	for n := 0; n <= 5*1300+10; n++ {
		l := newLayout(n)
		off := 0
		for i := range l.count {
			o, s := l.chunk(i)
			if o != off || s <= 0 || s > 1300 {
				t.Fatalf("n=%d chunk %d = (%d, %d), want offset %d, size 1..1300", n, i, o, s, off)
			}
			off += s
		}
		if off != n {
			t.Fatalf("n=%d: chunks cover %d bytes", n, off)
		}
		if !referenceAccepts(l) {
			t.Fatalf("n=%d: a reference receiver drops a chunk of %+v", n, l)
		}
	}
}

func TestLayoutExamples(t *testing.T) {
	tests := []struct {
		n     int
		sizes []int
	}{
		{0, nil},
		{100, []int{100}},
		{1300, []int{1300}},
		{1400, []int{700, 700}},
		{1549, []int{775, 774}},
		{1550, []int{1300, 250}},
		{2700, []int{1300, 700, 700}}, {2701, []int{1300, 701, 700}},
	}
	for _, tt := range tests {
		got := layoutSizes(tt.n)
		if len(got) != len(tt.sizes) {
			t.Errorf("layout(%d) = %v, want %v", tt.n, got, tt.sizes)
			continue
		}
		for i := range got {
			if got[i] != tt.sizes[i] {
				t.Errorf("layout(%d) = %v, want %v", tt.n, got, tt.sizes)
				break
			}
		}
	}
}
