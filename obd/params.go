package obd

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Param is one tunable or statistic. Get is nil for a write-only parameter,
// Set nil for a read-only one.
type Param struct {
	Get func() string
	Set func(v string) error
}

// Value is a parameter's name and current value.
type Value struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Tree holds a process's parameters. It is safe for concurrent use; getters
// and setters are called without the tree's lock held.
type Tree struct {
	mu     sync.RWMutex
	params map[string]Param // guarded by mu
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{params: map[string]Param{}} }

// Add registers p under name, replacing any parameter of that name.
func (t *Tree) Add(name string, p Param) {
	t.mu.Lock()
	t.params[name] = p
	t.mu.Unlock()
}

// AddUint registers a read-only parameter reporting f().
func (t *Tree) AddUint(name string, f func() uint64) {
	t.Add(name, Param{Get: func() string { return strconv.FormatUint(f(), 10) }})
}

// Remove drops name and every parameter below it.
func (t *Tree) Remove(name string) {
	t.mu.Lock()
	for k := range t.params {
		if k == name || strings.HasPrefix(k, name+".") {
			delete(t.params, k)
		}
	}
	t.mu.Unlock()
}

// match reports whether pattern selects name: the pattern's components glob
// the name's leading components.
func match(pattern, name string) (bool, error) {
	pc := strings.Split(pattern, ".")
	nc := strings.Split(name, ".")
	if len(pc) > len(nc) {
		// A pattern component may itself contain dots only through globs
		// like "*"; compare whole strings as the last resort.
		ok, err := path.Match(strings.ReplaceAll(pattern, ".", "/"), strings.ReplaceAll(name, ".", "/"))
		if err != nil {
			return false, fmt.Errorf("%w: %q: %w", ErrBadPattern, pattern, err)
		}
		return ok, nil
	}
	for i, p := range pc {
		ok, err := path.Match(p, nc[i])
		if err != nil {
			return false, fmt.Errorf("%w: %q: %w", ErrBadPattern, pattern, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// names returns the sorted names pattern selects.
func (t *Tree) names(pattern string) ([]string, map[string]Param, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	sel := map[string]Param{}
	for name, p := range t.params {
		ok, err := match(pattern, name)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out = append(out, name)
			sel[name] = p
		}
	}
	sort.Strings(out)
	return out, sel, nil
}

// List returns the names pattern selects.
func (t *Tree) List(pattern string) ([]string, error) {
	names, _, err := t.names(pattern)
	return names, err
}

// Get returns the readable parameters pattern selects, sorted by name. It
// is an error wrapping ErrNoParam if nothing matches.
func (t *Tree) Get(pattern string) ([]Value, error) {
	names, sel, err := t.names(pattern)
	if err != nil {
		return nil, err
	}
	var out []Value
	for _, n := range names {
		if g := sel[n].Get; g != nil {
			out = append(out, Value{Name: n, Value: g()})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoParam, pattern)
	}
	return out, nil
}

// Set sets every writable parameter pattern selects to v and returns how
// many it set. Nothing matching is ErrNoParam; matching only read-only
// parameters is ErrReadOnly. The first setter error stops it.
func (t *Tree) Set(pattern, v string) (int, error) {
	names, sel, err := t.names(pattern)
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNoParam, pattern)
	}
	n := 0
	for _, name := range names {
		s := sel[name].Set
		if s == nil {
			continue
		}
		if err := s(v); err != nil {
			return n, fmt.Errorf("%s=%s: %w", name, v, err)
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %s", ErrReadOnly, pattern)
	}
	return n, nil
}

// Int is a parameter over an integer guarded by its owner: get and set are
// called with the owner's locking; min and max bound accepted values.
func Int(get func() int64, set func(int64), min, max int64) Param {
	return Param{
		Get: func() string { return strconv.FormatInt(get(), 10) },
		Set: func(s string) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
			if err != nil {
				return fmt.Errorf("%w: %q is not an integer", ErrBadValue, s)
			}
			if v < min || v > max {
				return fmt.Errorf("%w: %d is outside [%d, %d]", ErrBadValue, v, min, max)
			}
			set(v)
			return nil
		},
	}
}
