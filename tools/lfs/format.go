package lfs

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// verbose selects the fields getstripe prints (Lustre's VERBOSE_* bits).
// A field is printed with its label when any other bit is set too, and
// bare when it is the only one (`lfs getstripe -c f` prints "2").
type verbose uint32

const (
	vCount verbose = 1 << iota
	vSize
	vOffset
	vPool
	vObjID
	vGen
	vPattern
	vCompCount
	vCompFlags
	vCompStart
	vCompEnd
	vCompID
	vMirrorCount
	vMirrorID
	vDetail // -v
	vFID    // -F

	vDefault = vCount | vSize | vOffset | vPool | vObjID | vGen | vPattern | vCompCount |
		vCompFlags | vCompStart | vCompEnd | vCompID | vMirrorCount | vMirrorID
)

// dumpFlags say how one stripe set is printed (Lustre's LDF_* flags).
type dumpFlags uint8

const (
	fDir      dumpFlags = 1 << iota // a directory template
	fIndent                         // a component of a composite layout
	fSkipObjs                       // not instantiated: no objects
)

// Layout magics as Lustre prints them with -v.
const (
	magicV1   = 0x0BD10BD0
	magicV3   = 0x0BD30BD0
	magicComp = 0x0BD60BD0
)

// stripeDefaults are the file system defaults a directory template's unset
// count and size are shown as (unless -R).
type stripeDefaults struct {
	count int32
	size  uint32
}

// printer prints layouts in getstripe's formats. Its fields are the
// command line; the methods follow liblustreapi's lov_dump_* functions,
// so that field order, labels, separators and blank lines match.
type printer struct {
	w        io.Writer
	verbose  verbose
	maxDepth int // 0: no path lines (-d, single fields); -1: -r
	yaml     bool
	raw      bool // -R: unset template fields as stored
	loc      *time.Location
	// defaults returns the file system defaults for directory templates.
	defaults func() stripeDefaults
}

// entry is what getstripe prints for one path.
type entry struct {
	path  string
	l     *layout.Layout
	dir   bool
	faked bool     // a directory without a default: shown as "use the default"
	fid   wire.FID // for -v and -F
}

func (p *printer) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

// label prints a field's label unless the field is the only one asked for.
func (p *printer) label(bit verbose, s string) {
	if p.verbose&^bit != 0 {
		p.printf("%s", s)
	}
}

// dump prints one path's layout.
func (p *printer) dump(e *entry) {
	if e.l.Composite {
		p.dumpComposite(e)
		return
	}
	var flags dumpFlags
	if e.dir {
		flags |= fDir
	}
	c := &e.l.Components[0]
	p.dumpStripe(e, c, e.l.Gen, flags)
}

// dumpStripe prints a stripe set: the header fields, then the objects
// (lov_dump_user_lmm_v1v3).
func (p *printer) dumpStripe(e *entry, c *layout.Component, gen uint32, flags dumpFlags) {
	p.stripeHeader(e, c, gen, flags)
	s := &c.Stripe
	isDir, indent, skip := flags&fDir != 0, flags&fIndent != 0, flags&fSkipObjs != 0
	if !skip && p.verbose&vObjID != 0 && !isDir && !c.IsDoM() && s.Pattern&layout.PatternReleased == 0 {
		switch {
		case indent:
			p.printf("      lmm_objects:\n")
		case p.yaml:
			p.printf("lmm_objects:\n")
		default:
			p.printf("\tobdidx\t\t objid\t\t objid\t\t group\n")
		}
		for i, o := range s.Objects {
			switch {
			case p.yaml:
				p.printf("      - l_ost_idx: %d\n", o.OSTIndex)
				p.printf("        l_fid:     %s\n", o.FID.Short())
			case indent:
				p.printf("      - %d: { l_ost_idx: %d, l_fid: %s }\n", i, o.OSTIndex, o.FID.String())
			default:
				objid, group := ostObjID(o.FID)
				g := fmt.Sprintf("%14s", cHex(group))
				if groupIsDecimal(group) {
					g = fmt.Sprintf("%14d", group)
				}
				p.printf("\t%6d\t%14d\t%13s\t%s\n", o.OSTIndex, objid, cHex(objid), g)
			}
		}
	}
	if !p.yaml {
		p.printf("\n")
	}
}

// stripeHeader prints the lmm_* fields of a stripe set
// (lov_dump_user_lmm_header): one per line for files, on one line without
// the lmm_ prefix for directory templates.
func (p *printer) stripeHeader(e *entry, c *layout.Component, gen uint32, flags dumpFlags) {
	s := &c.Stripe
	isDir, indent, skip := flags&fDir != 0, flags&fIndent != 0, flags&fSkipObjs != 0
	prefix, space := "lmm_", ""
	if isDir {
		prefix = ""
	}
	if indent {
		space = "      "
	}
	if isDir && e.faked && !p.raw && !indent && p.verbose&vDetail != 0 {
		p.printf("%s(Default) ", space)
	}
	if !p.yaml && !indent && p.maxDepth != 0 && e.path != "" && (p.verbose != vObjID || !isDir) {
		p.printf("%s\n", e.path)
	}
	if p.verbose&vDetail != 0 && !isDir {
		magic := magicV1
		if s.Pool != "" {
			magic = magicV3
		}
		p.printf("%s%smagic:         0x%08X\n", space, prefix, magic)
		p.printf("%s%sseq:           %s\n", space, prefix, cHex(e.fid.Seq))
		p.printf("%s%sobject_id:     %s\n", space, prefix, cHex(uint64(e.fid.Oid)))
	}
	if p.verbose&(vDetail|vFID) != 0 && !isDir {
		if p.verbose&^vFID != 0 {
			p.printf("%slmm_fid:           ", space)
		}
		if p.yaml {
			p.printf("%s\n", e.fid.Short())
		} else {
			p.printf("%s\n", e.fid.String())
		}
	}
	sep := ""
	next := func() {
		if !p.yaml && isDir {
			sep = " "
		} else {
			sep = "\n"
		}
	}
	dom := c.IsDoM()
	if p.verbose&vCount != 0 {
		p.label(vCount, space+prefix+"stripe_count:  ")
		count := s.Count
		if isDir && !p.raw && count == 0 && !dom {
			count = p.defaults().count
		}
		p.printf("%d", count)
		next()
	}
	if p.verbose&vSize != 0 {
		p.printf("%s", sep)
		p.label(vSize, space+prefix+"stripe_size:   ")
		size := s.Size
		if isDir && !p.raw && size == 0 {
			size = p.defaults().size
		}
		p.printf("%d", size)
		next()
	}
	if p.verbose&vPattern != 0 {
		p.printf("%s", sep)
		p.label(vPattern, space+prefix+"pattern:       ")
		p.printf("%s", s.Pattern)
		next()
	}
	if p.verbose&vGen != 0 && !isDir {
		p.printf("%s", sep)
		p.label(vGen, space+prefix+"layout_gen:    ")
		if skip {
			gen = 0
		}
		p.printf("%d", gen)
		sep = "\n"
	}
	if p.verbose&vOffset != 0 {
		p.printf("%s", sep)
		if dom {
			p.label(vOffset, space+prefix+"mdt_index:     ")
		} else {
			p.label(vOffset, space+prefix+"stripe_offset: ")
		}
		switch {
		case dom:
			p.printf("%d", max(s.Offset, 0))
		case isDir || skip || len(s.Objects) == 0:
			p.printf("%d", s.Offset)
		default:
			p.printf("%d", s.Objects[0].OSTIndex)
		}
		next()
	}
	if p.verbose&vPool != 0 && s.Pool != "" {
		p.printf("%s", sep)
		p.label(vPool, space+prefix+"pool:          ")
		p.printf("%s", s.Pool)
		next()
	}
	if sep != "" {
		p.printf("\n")
	}
}

// dumpComposite prints a composite layout (lov_dump_comp_v1): the lcm_*
// header, then each component's entry and stripe set. When only some
// fields are asked for, only the last instantiated component is printed.
func (p *printer) dumpComposite(e *entry) {
	l := e.l
	flags := fIndent
	if e.dir {
		flags |= fDir
	}
	p.compHeader(e)
	lastInit := p.verbose&vDefault != vDefault
	i := 0
	for ; i < len(l.Components); i++ {
		c := &l.Components[i]
		if lastInit {
			if c.IsInit() {
				continue
			}
			break
		}
		f := flags
		if !c.IsInit() {
			f |= fSkipObjs
		}
		p.compEntry(e, i, f)
		p.dumpStripe(e, c, 0, f)
	}
	if lastInit {
		if i == 0 {
			i = len(l.Components) - 1
		} else {
			i--
		}
		p.compEntry(e, i, flags)
		p.dumpStripe(e, &l.Components[i], 0, flags)
	}
}

// compHeader prints the lcm_* fields.
func (p *printer) compHeader(e *entry) {
	l := e.l
	if p.maxDepth != 0 && e.path != "" && (p.verbose != vObjID || !e.dir) && !p.yaml {
		p.printf("%s\n", e.path)
	}
	indent := "  "
	if p.yaml {
		indent = ""
	}
	if p.verbose&vDetail != 0 {
		size, _ := compSizes(l)
		p.printf("composite_header:\n")
		p.printf("  lcm_magic:         0x%08X\n", magicComp)
		p.printf("  lcm_size:          %d\n", size)
		if e.dir {
			state := ""
			if l.IsFLR() {
				state = "mirrored"
			}
			p.printf("  lcm_flags:         %s\n", state)
		} else {
			p.printf("  lcm_flags:         %s\n", l.State)
		}
	}
	if p.verbose&vGen != 0 {
		p.label(vGen, indent+"lcm_layout_gen:    ")
		gen := l.Gen
		if e.dir {
			gen = 0 // a template has no generation of its own
		}
		p.printf("%d\n", gen)
	}
	if p.verbose&vMirrorCount != 0 {
		p.label(vMirrorCount, indent+"lcm_mirror_count:  ")
		p.printf("%d\n", l.MirrorCount())
	}
	if p.verbose&vCompCount != 0 {
		p.label(vCompCount, indent+"lcm_entry_count:   ")
		p.printf("%d\n", len(l.Components))
	}
	if p.verbose&vDetail != 0 || p.yaml {
		p.printf("components:\n")
	}
}

// compEntry prints a component's lcme_* fields (lov_dump_comp_v1_entry).
// Directory templates have no component ids: they print N/A.
func (p *printer) compEntry(e *entry, i int, flags dumpFlags) {
	c := &e.l.Components[i]
	sep := ""
	id, mirror := strconv.FormatUint(uint64(c.ID), 10), strconv.FormatUint(uint64(c.MirrorID), 10)
	if e.dir {
		id, mirror = "N/A", "N/A"
	}
	if p.verbose&vCompID != 0 || p.yaml {
		if p.verbose&vDetail != 0 || p.yaml {
			p.printf("  - lcme_id:             ")
		} else {
			p.label(vCompID, "    lcme_id:             ")
		}
		p.printf("%s", id)
		sep = "\n"
	}
	if p.verbose&vMirrorID != 0 {
		p.printf("%s", sep)
		p.label(vMirrorID, "    lcme_mirror_id:      ")
		p.printf("%s", mirror)
		sep = "\n"
	}
	if p.verbose&vCompFlags != 0 {
		p.printf("%s", sep)
		p.label(vCompFlags, "    lcme_flags:          ")
		p.printf("%s", c.Flags)
		sep = "\n"
		if c.Flags&layout.NoSync != 0 || c.Timestamp != 0 {
			p.printf("%s", sep)
			p.label(vCompFlags, "    lcme_timestamp:      ")
			if p.yaml {
				p.printf("%d", c.Timestamp)
			} else {
				t := time.Unix(int64(c.Timestamp), 0).In(p.loc)
				p.printf("'%s'", t.Format("Mon Jan _2 15:04:05 2006"))
			}
		}
	}
	if p.verbose&vCompStart != 0 {
		p.printf("%s", sep)
		p.label(vCompStart, "    lcme_extent.e_start: ")
		p.printf("%d", c.Extent.Start)
		sep = "\n"
	}
	if p.verbose&vCompEnd != 0 {
		p.printf("%s", sep)
		p.label(vCompEnd, "    lcme_extent.e_end:   ")
		p.printf("%s", layout.FormatEnd(c.Extent.End))
		sep = "\n"
	}
	switch {
	case p.yaml:
		p.printf("%s", sep)
		p.printf("    sub_layout:\n")
	case p.verbose&vDetail != 0:
		_, offs := compSizes(e.l)
		p.printf("%s", sep)
		p.printf("    lcme_offset:         %d\n", offs[i].off)
		p.printf("    lcme_size:           %d\n", offs[i].size)
		p.printf("    sub_layout:\n")
	default:
		p.printf("%s", sep)
	}
}

type span struct{ off, size int }

// compSizes computes lcm_size and each entry's lcme_offset and lcme_size
// as Lustre lays out lov_comp_md_v1: a 32-byte header, 48 bytes per entry,
// then each stripe set (lov_mds_md: 32 bytes, 48 with a pool, plus 24 per
// object).
func compSizes(l *layout.Layout) (int, []span) {
	off := 32 + 48*len(l.Components)
	spans := make([]span, len(l.Components))
	for i := range l.Components {
		s := &l.Components[i].Stripe
		size := 32
		if s.Pool != "" {
			size = 48
		}
		size += 24 * len(s.Objects)
		spans[i] = span{off, size}
		off += size
	}
	return off, spans
}

// ostObjID returns the object id and group ("objid" and "group" of the
// obdidx table) of an OST object FID, as Lustre's ostid does: an IDIF FID
// [0x1_0000_0000 | ost<<16 | hi : lo : ver] is object hi<<32 | lo (and ver
// <<48) in group 0; any other FID is object oid in group seq.
func ostObjID(f wire.FID) (objid, group uint64) {
	if f.Seq>>32 == 1 { // IDIF
		return uint64(f.Oid) | (f.Seq&0xffff)<<32 | uint64(f.Ver)<<48, 0
	}
	return uint64(f.Oid), f.Seq
}

// groupIsDecimal: groups of reserved sequences (0..11, where 0 is the
// MDT0 group) print in decimal, others in hex.
func groupIsDecimal(seq uint64) bool { return seq <= 11 }

// cHex prints v as C's %#x: "0" for zero, 0x-prefixed otherwise.
func cHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// joinPath appends a directory entry's name to path as lfs does.
func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
