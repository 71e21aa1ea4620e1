package mdt

import (
	"context"
	"errors"
	"fmt"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// TargetName is an MDT's name: FSNAME-MDTxxxx.
func TargetName(fsname string, index uint32) string { return fmt.Sprintf("%s-MDT%04x", fsname, index) }

// Format makes dir an MDT of file system o.FSName (mkfs.lustre --mdt): a
// store whose label records the fsname, index, MGS and service nodes and
// parameters; on MDT0000 the root directory, with the file system default
// layout from lov.* parameters. A formatted MDT is refused (ErrFormatted)
// unless o.Reformat.
func Format(dir string, o FormatOptions) (store.Label, error) {
	if err := o.Validate(); err != nil {
		return store.Label{}, err
	}
	def, _ := defaultFromParams(o.Params)
	name := TargetName(o.FSName, o.Index)
	l := store.Label{FSName: o.FSName, Index: o.Index, UUID: name + "_UUID",
		MGSNodes: o.MGSNodes, ServiceNodes: o.ServiceNodes, Params: append([]string(nil), o.Params...)}
	if err := l.Validate(); err != nil {
		return store.Label{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := mkdirAll(dir); err != nil {
		return store.Label{}, err
	}
	path := storePath(dir)
	if err := mdd.Format(path, l, store.FormatOptions{Reformat: o.Reformat, NoSync: o.NoSync}); err != nil {
		if errors.Is(err, store.ErrFormatted) {
			return store.Label{}, fmt.Errorf("%w: %w", ErrFormatted, err)
		}
		return store.Label{}, fmt.Errorf("mdt: format %s: %w", dir, err)
	}
	if !def.set || o.Index != 0 {
		return l, nil
	}
	s, err := store.Open(path, store.Options{NoSync: o.NoSync})
	if err != nil {
		return store.Label{}, fmt.Errorf("mdt: format %s: %w", dir, err)
	}
	defer s.Close()
	m, err := mdd.New(s, mdd.Config{})
	if err == nil {
		err = setRootDefault(context.Background(), m, def)
	}
	if err != nil {
		return store.Label{}, fmt.Errorf("mdt: format %s: file system default layout: %w", dir, err)
	}
	return l, nil
}

// setRootDefault changes the fields of the root's default layout that def
// sets (size 0 and count 0 leave them as they are).
func setRootDefault(ctx context.Context, m *mdd.MDD, def lovDefault) error {
	cur, err := readDefault(ctx, m, wire.RootFID)
	if err != nil {
		return err
	}
	o := layout.NewOptions()
	if cur != nil && len(cur.Components) > 0 {
		s := cur.Components[0].Stripe
		o.Count, o.Size, o.Offset, o.Pool = s.Count, s.Size, s.Offset, s.Pool
	}
	if def.size != 0 {
		o.Size = def.size
	}
	if def.count != 0 {
		o.Count = def.count
	}
	if def.offsetSet {
		o.Offset = def.offset
	}
	t, err := layout.Template([]layout.Options{o})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	b, err := layout.Encode(t)
	if err != nil {
		return err
	}
	_, err = m.SetXattr(ctx, mdd.Root(), wire.RootFID, mdd.XattrDefaultLOV, b, 0)
	return err
}

// readDefault returns directory f's default layout, nil if it has none.
func readDefault(ctx context.Context, m *mdd.MDD, f wire.FID) (*layout.Layout, error) {
	b, err := m.GetXattr(ctx, mdd.Root(), f, mdd.XattrDefaultLOV)
	if errors.Is(err, mdd.ErrNoData) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeTemplate(b)
}

// decodeTemplate decodes a layout template (a directory default, or the
// layout asked for at create); nil for none.
func decodeTemplate(b []byte) (*layout.Layout, error) {
	if len(b) == 0 {
		return nil, nil
	}
	l, err := layout.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	if err := l.ValidateTemplate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	return l, nil
}

func parseStripeSize(s string) (uint32, error) { return layout.ParseStripeSize(s) }
