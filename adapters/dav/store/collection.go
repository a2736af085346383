package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is the type of a collection.
type Kind uint8

// Collection kinds.
const (
	Calendar    Kind = 1
	AddressBook Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Calendar:
		return "calendar"
	case AddressBook:
		return "addressbook"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Prop is a stored collection property: its name and the complete
// self-contained XML element.
type Prop struct {
	Name xml.Name
	XML  []byte
}

// Collection is a calendar or address book.
type Collection struct {
	ID         int64
	Principal  string
	Kind       Kind
	Name       string   // URL segment
	Components []string // calendars: supported component names
	SyncID     string   // random; identifies this incarnation in sync tokens
	Seq        int64    // change counter
	PruneSeq   int64    // sync tokens below this are no longer valid
	Created    time.Time
	Props      []Prop
}

// Prop returns the stored property with the given name, or nil.
func (c *Collection) Prop(name xml.Name) *Prop {
	for i := range c.Props {
		if c.Props[i].Name == name {
			return &c.Props[i]
		}
	}
	return nil
}

// NewCollection describes a collection to create.
type NewCollection struct {
	Principal  string
	Kind       Kind
	Name       string
	Components []string
	Props      []Prop
}

func newSyncID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateCollection creates a collection; ErrExists if the name is taken,
// ErrNotFound if the principal does not exist.
func (s *Store) CreateCollection(ctx context.Context, nc NewCollection) (*Collection, error) {
	var c *Collection
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = s.createCollectionTx(ctx, tx, nc)
		return err
	})
	return c, err
}

func (s *Store) createCollectionTx(ctx context.Context, tx *sql.Tx, nc NewCollection) (*Collection, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM principals WHERE id = ?`, nc.Principal).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: create collection: principal %q: %w", nc.Principal, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: create collection: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM collections WHERE principal = ? AND kind = ? AND name = ?`,
		nc.Principal, nc.Kind, nc.Name).Scan(&one)
	if err == nil {
		return nil, fmt.Errorf("store: create collection %q: %w", nc.Name, ErrExists)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: create collection: %w", err)
	}
	now := s.now()
	c := &Collection{
		Principal: nc.Principal, Kind: nc.Kind, Name: nc.Name, Components: nc.Components,
		SyncID: newSyncID(), Seq: 1, Created: time.Unix(now.Unix(), 0), Props: nc.Props,
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO collections (principal, kind, name, components, sync_id, seq, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Principal, c.Kind, c.Name, strings.Join(c.Components, ","), c.SyncID, c.Seq, now.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: create collection: %w", err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("store: create collection: %w", err)
	}
	for _, p := range nc.Props {
		if err := setPropTx(ctx, tx, c.ID, p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func setPropTx(ctx context.Context, tx *sql.Tx, id int64, p Prop) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO collection_props (collection, space, local, xml) VALUES (?, ?, ?, ?)
		 ON CONFLICT (collection, space, local) DO UPDATE SET xml = excluded.xml`,
		id, p.Name.Space, p.Name.Local, p.XML)
	if err != nil {
		return fmt.Errorf("store: set property %s: %w", p.Name.Local, err)
	}
	return nil
}

const collectionCols = `id, principal, kind, name, components, sync_id, seq, prune_seq, created`

func scanCollection(row interface{ Scan(...any) error }) (*Collection, error) {
	var (
		c       Collection
		comps   string
		created int64
	)
	if err := row.Scan(&c.ID, &c.Principal, &c.Kind, &c.Name, &comps, &c.SyncID, &c.Seq, &c.PruneSeq, &created); err != nil {
		return nil, err
	}
	if comps != "" {
		c.Components = strings.Split(comps, ",")
	}
	c.Created = time.Unix(created, 0)
	return &c, nil
}

// Collection returns one collection with its properties.
func (s *Store) Collection(ctx context.Context, principal string, kind Kind, name string) (*Collection, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+collectionCols+` FROM collections WHERE principal = ? AND kind = ? AND name = ?`,
		principal, kind, name)
	c, err := scanCollection(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: collection %s/%s: %w", principal, name, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: collection %s/%s: %w", principal, name, err)
	}
	if err := s.loadProps(ctx, []*Collection{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// Collections lists a principal's collections of one kind, by name.
func (s *Store) Collections(ctx context.Context, principal string, kind Kind) ([]*Collection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+collectionCols+` FROM collections WHERE principal = ? AND kind = ? ORDER BY name`,
		principal, kind)
	if err != nil {
		return nil, fmt.Errorf("store: list collections: %w", err)
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list collections: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list collections: %w", err)
	}
	rows.Close()
	if err := s.loadProps(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) loadProps(ctx context.Context, cs []*Collection) error {
	for _, c := range cs {
		rows, err := s.db.QueryContext(ctx, `SELECT space, local, xml FROM collection_props WHERE collection = ? ORDER BY space, local`, c.ID)
		if err != nil {
			return fmt.Errorf("store: load properties: %w", err)
		}
		for rows.Next() {
			var p Prop
			if err := rows.Scan(&p.Name.Space, &p.Name.Local, &p.XML); err != nil {
				rows.Close()
				return fmt.Errorf("store: load properties: %w", err)
			}
			c.Props = append(c.Props, p)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("store: load properties: %w", err)
		}
	}
	return nil
}

// DeleteCollection removes a collection with all its objects and
// tombstones. Sync tokens of the collection die with its SyncID.
func (s *Store) DeleteCollection(ctx context.Context, id int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM collections WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete collection: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: delete collection %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// PatchProps sets and removes collection properties in one transaction
// and counts it as a change of the collection (getctag changes).
func (s *Store) PatchProps(ctx context.Context, id int64, set []Prop, remove []xml.Name) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := bumpSeqTx(ctx, tx, id); err != nil {
			return err
		}
		for _, p := range set {
			if err := setPropTx(ctx, tx, id, p); err != nil {
				return err
			}
		}
		for _, n := range remove {
			if _, err := tx.ExecContext(ctx, `DELETE FROM collection_props WHERE collection = ? AND space = ? AND local = ?`,
				id, n.Space, n.Local); err != nil {
				return fmt.Errorf("store: remove property %s: %w", n.Local, err)
			}
		}
		return nil
	})
}

// bumpSeqTx increments the collection's change counter and returns the
// new value; ErrNotFound if the collection is gone.
func bumpSeqTx(ctx context.Context, tx *sql.Tx, id int64) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `UPDATE collections SET seq = seq + 1 WHERE id = ? RETURNING seq`, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: collection %d: %w", id, ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("store: bump change counter: %w", err)
	}
	return seq, nil
}
