package message

import "github.com/mycelium-go/mycelium/core/wire"

// minChunk is the smallest chunk a reference receiver accepts anywhere
// but at what it believes is the last index.
const minChunk = 250

// layout is how a message of n bytes is cut into chunks: ChunkSize bytes
// each, except that a remainder of 1..249 bytes after two or more chunks
// is merged with the previous chunk and the two are split evenly, so no
// chunk is shorter than minChunk (errata 2). The count is ceil(n/1300).
type layout struct {
	n     int
	count int
	// split is the index of the first of the two rebalanced chunks, or -1.
	split int
	first int // size of chunk split; chunk split+1 has the rest
}

func newLayout(n int) layout {
	const size = wire.MessageChunkSize
	l := layout{n: n, count: (n + size - 1) / size, split: -1}
	if l.count >= 2 {
		if r := n - (l.count-1)*size; r < minChunk {
			l.split = l.count - 2
			tail := size + r
			l.first = tail - tail/2
		}
	}
	return l
}

// chunk returns the offset and size of chunk i (0 <= i < count).
func (l layout) chunk(i int) (off, size int) {
	const cs = wire.MessageChunkSize
	switch {
	case i == l.split:
		return i * cs, l.first
	case l.split >= 0 && i == l.split+1:
		off = (i-1)*cs + l.first
		return off, l.n - off
	case i == l.count-1:
		return i * cs, l.n - i*cs
	default:
		return i * cs, cs
	}
}
