package imapd

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel := s.sel
	refs := sel.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	st := s.srv.cfg.Store
	withMeta := options.Envelope || options.BodyStructure != nil
	msgs, err := st.Messages(s.ctx, sel.mb.ID, refs[0].uid, refs[len(refs)-1].uid, withMeta)
	if err != nil {
		return imapErr(err)
	}
	byUID := make(map[imap.UID]*store.Message, len(msgs))
	for i := range msgs {
		byUID[msgs[i].UID] = &msgs[i]
	}

	// Reading a body section without PEEK sets \Seen (RFC 9051 6.4.5);
	// the new flags go out in this FETCH response.
	markSeen := false
	for _, bs := range options.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	for _, bs := range options.BinarySection {
		markSeen = markSeen || !bs.Peek
	}
	seenChanged := map[imap.UID]bool{}
	if markSeen && !sel.readOnly {
		var unseen []imap.UID
		for _, r := range refs {
			if m := byUID[r.uid]; m != nil && !m.Flags.Has(imap.FlagSeen) {
				unseen = append(unseen, r.uid)
			}
		}
		if len(unseen) > 0 {
			ups, err := st.StoreFlags(s.ctx, sel.mb.ID, unseen, imap.StoreFlagsAdd, []imap.Flag{imap.FlagSeen}, sel.st)
			if err != nil {
				return imapErr(err)
			}
			for _, u := range ups {
				if m := byUID[u.UID]; m != nil {
					m.Flags = store.FlagSet{}
					for _, f := range u.Flags {
						m.Flags.Add(f)
					}
					seenChanged[u.UID] = true
				}
			}
		}
	}

	for _, r := range refs {
		m := byUID[r.uid]
		if m == nil {
			continue // expunged meanwhile
		}
		if err := s.fetchOne(w.CreateMessage(r.seq), m, options, seenChanged[r.uid]); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) fetchOne(w *imapserver.FetchResponseWriter, m *store.Message, options *imap.FetchOptions, flagsChanged bool) error {
	w.WriteUID(m.UID)
	if options.Flags || flagsChanged {
		w.WriteFlags(m.Flags.List())
	}
	if options.InternalDate {
		w.WriteInternalDate(m.InternalDate)
	}
	if options.RFC822Size {
		w.WriteRFC822Size(m.Size)
	}
	if options.Envelope {
		env, err := store.DecodeEnvelope(m.Envelope)
		if err != nil {
			env = &imap.Envelope{}
		}
		w.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		bs, err := store.DecodeBodyStructure(m.BodyStructure)
		if err != nil {
			return imapErr(fmt.Errorf("fetch uid %d: %w", m.UID, err))
		}
		w.WriteBodyStructure(bs)
	}
	if len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 {
		f, err := s.srv.cfg.Store.OpenBody(m)
		if err != nil {
			return imapErr(err)
		}
		defer f.Close()
		if err := writeSections(w, f, m.Size, options); err != nil {
			return err
		}
	}
	return w.Close()
}

func writeSections(w *imapserver.FetchResponseWriter, f *os.File, size int64, options *imap.FetchOptions) error {
	for _, bs := range options.BodySection {
		if isWholeMessage(bs) {
			// BODY[] / RFC822 / BODY[]<off.len>: stream from the file.
			off, n := int64(0), size
			if p := bs.Partial; p != nil {
				off = min(p.Offset, size)
				n = min(p.Size, size-off)
			}
			if err := copySection(w.WriteBodySection(bs, n), io.NewSectionReader(f, off, n)); err != nil {
				return err
			}
			continue
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		buf := imapserver.ExtractBodySection(f, bs)
		if err := copySection(w.WriteBodySection(bs, int64(len(buf))), bytes.NewReader(buf)); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		buf := imapserver.ExtractBinarySection(f, bs)
		if err := copySection(w.WriteBinarySection(bs, int64(len(buf))), bytes.NewReader(buf)); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		w.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(f, bss))
	}
	return nil
}

func isWholeMessage(bs *imap.FetchItemBodySection) bool {
	return len(bs.Part) == 0 && bs.Specifier == imap.PartSpecifierNone &&
		len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0
}

func copySection(wc io.WriteCloser, r io.Reader) error {
	_, err := io.Copy(wc, r)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}
