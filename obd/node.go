package obd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
)

// Device is one entry of `lctl dl`: a target, a client-side import, a service.
type Device struct {
	Type string // "mgs", "mdt", "obdfilter", "osc", "mdc", "lov", "lmv", "mgc" ...
	Name string // "stria-OST0000", "stria-OST0000-osc-ffff8a3c"
	UUID string
	// Status reports "UP", "IN" (inactive) or "ST" (stopping); nil means UP.
	Status func() string
	// Refs reports the reference count column; nil means 1.
	Refs func() int
	// AbortRecovery ends the device's recovery window now (`lctl --device
	// N abort_recovery`); nil for a device without one.
	AbortRecovery func()
	// Readonly stops the device writing to disk until it restarts, while
	// it goes on answering (`lctl --device N readonly`, Lustre's replay
	// barrier for recovery tests); nil for a device that cannot.
	Readonly func()
}

// Node is the per-process registry: devices, parameters, the control
// socket, and the process's LNet once attached.
type Node struct {
	Params  *Tree
	Control *Control
	log     *zap.Logger

	mu      sync.Mutex
	devices []Device   // guarded by mu, in registration order
	ln      *lnet.LNet // guarded by mu
}

// NewNode returns a node with the standard commands registered: get_param,
// set_param, list_param, dl, abort_recovery and readonly.
func NewNode(log *zap.Logger) *Node {
	if log == nil {
		log = zap.NewNop()
	}
	n := &Node{Params: NewTree(), Control: NewControl(log), log: log}
	n.Control.Handle("get_param", n.cmdGetParam)
	n.Control.Handle("set_param", n.cmdSetParam)
	n.Control.Handle("list_param", n.cmdListParam)
	n.Control.Handle("dl", n.cmdDL)
	n.Control.Handle("abort_recovery", n.deviceCmd("abort_recovery", ErrNoRecovery,
		func(d Device) func() { return d.AbortRecovery }))
	n.Control.Handle("readonly", n.deviceCmd("readonly", ErrNoReadonly,
		func(d Device) func() { return d.Readonly }))
	return n
}

// deviceCmd is a command run on the device named by its one argument
// (abort_recovery, readonly): pick returns the device's function, or nil
// when the device has none (the command fails with none).
func (n *Node) deviceCmd(cmd string, none error, pick func(Device) func()) func(context.Context, []string) (string, error) {
	return func(_ context.Context, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%w: %s wants one device name", ErrBadValue, cmd)
		}
		n.mu.Lock()
		var fn func()
		found := false
		for _, d := range n.devices {
			if d.Name == args[0] {
				fn, found = pick(d), true
				break
			}
		}
		n.mu.Unlock()
		switch {
		case !found:
			return "", fmt.Errorf("%w: %s", ErrNoDevice, args[0])
		case fn == nil:
			return "", fmt.Errorf("%w: %s", none, args[0])
		}
		fn()
		return "", nil
	}
}

// AddDevice registers d for `lctl dl`.
func (n *Node) AddDevice(d Device) {
	n.mu.Lock()
	n.devices = append(n.devices, d)
	n.mu.Unlock()
}

// RemoveDevice drops the device named name.
func (n *Node) RemoveDevice(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, d := range n.devices {
		if d.Name == name {
			n.devices = append(n.devices[:i], n.devices[i+1:]...)
			return
		}
	}
}

// EncodeValues renders get_param results for the wire between a process and
// lctl: one "name=value" record per parameter, NUL-separated so that values
// may span lines.
func EncodeValues(vs []Value) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(v.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// DecodeValues is the inverse of EncodeValues.
func DecodeValues(s string) []Value {
	var out []Value
	for _, rec := range strings.Split(s, "\x00") {
		if rec == "" {
			continue
		}
		name, val, _ := strings.Cut(rec, "=")
		out = append(out, Value{Name: name, Value: val})
	}
	return out
}

func (n *Node) cmdGetParam(_ context.Context, args []string) (string, error) {
	var all []Value
	for _, p := range args {
		vs, err := n.Params.Get(p)
		if err != nil {
			return "", err
		}
		all = append(all, vs...)
	}
	return EncodeValues(all), nil
}

func (n *Node) cmdSetParam(_ context.Context, args []string) (string, error) {
	var b strings.Builder
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return b.String(), fmt.Errorf("%w: %q: want NAME=VALUE", ErrBadValue, kv)
		}
		if _, err := n.Params.Set(k, v); err != nil {
			return b.String(), err
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String(), nil
}

func (n *Node) cmdListParam(_ context.Context, args []string) (string, error) {
	var b strings.Builder
	for _, p := range args {
		names, err := n.Params.List(p)
		if err != nil {
			return "", err
		}
		for _, nm := range names {
			b.WriteString(nm)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// cmdDL prints the device list in lctl's format: index status type name
// uuid refcount. The index is filled in by lctl when it merges processes;
// here it counts from 0.
func (n *Node) cmdDL(_ context.Context, _ []string) (string, error) {
	n.mu.Lock()
	devs := append([]Device(nil), n.devices...)
	n.mu.Unlock()
	var b strings.Builder
	for i, d := range devs {
		st, refs := "UP", 1
		if d.Status != nil {
			st = d.Status()
		}
		if d.Refs != nil {
			refs = d.Refs()
		}
		fmt.Fprintf(&b, "%3d %s %s %s %s %d\n", i, st, d.Type, d.Name, d.UUID, refs)
	}
	return b.String(), nil
}

// AttachLNet makes the node's LNet visible to lctl: list_nids, net_status (JSON),
// ping and the lnet.* statistics.
func (n *Node) AttachLNet(ln *lnet.LNet) {
	n.mu.Lock()
	n.ln = ln
	n.mu.Unlock()
	n.Control.Handle("list_nids", func(context.Context, []string) (string, error) {
		var b strings.Builder
		for _, nid := range ln.NIDs() {
			b.WriteString(nid.String())
			b.WriteByte('\n')
		}
		return b.String(), nil
	})
	n.Control.Handle("net_status", func(context.Context, []string) (string, error) {
		b, err := json.Marshal(ln.NIs())
		return string(b), err
	})
	n.Control.Handle("ping", func(ctx context.Context, args []string) (string, error) {
		return pingCmd(ctx, ln, args)
	})
	n.Params.Add("lnet.nis", Param{Get: func() string { return FormatNetShow(ln.NIs(), true) }})
}

// pingCmd runs `lctl ping NID [timeout]`: timeout in seconds, default 1,
// at most 120, as Lustre.
func pingCmd(ctx context.Context, ln *lnet.LNet, args []string) (string, error) {
	if len(args) < 1 || len(args) > 2 {
		return "", fmt.Errorf("%w: usage: ping NID [timeout]", ErrBadValue)
	}
	nid, err := lnet.ParseNID(args[0])
	if err != nil {
		return "", err
	}
	timeout := time.Second
	if len(args) == 2 {
		s, err := strconv.Atoi(args[1])
		if err != nil || s < 1 || s > 120 {
			return "", fmt.Errorf("%w: timeout %q must be 1..120 seconds", ErrBadValue, args[1])
		}
		timeout = time.Duration(s) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ids, err := ln.Ping(ctx, nid)
	if err != nil {
		return "", fmt.Errorf("failed to ping %s: %w", nid, err)
	}
	// Every Lustre node's LNet has the loopback NI 0@lo first, and lctl
	// ping lists it, so scripts that parse the output see the same lines.
	var b strings.Builder
	lo := lnet.ProcessID{NID: lnet.LoNID(0), PID: lnet.PIDLustre}
	if len(ids) > 0 {
		lo.PID = ids[0].PID
	}
	b.WriteString(lo.String())
	b.WriteByte('\n')
	for _, id := range ids {
		if id.NID == lo.NID {
			continue
		}
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// FormatNetShow prints NIs as `lnetctl net show` does (YAML), grouped by
// network type; verbose adds the statistics.
func FormatNetShow(nis []lnet.NIStatus, verbose bool) string {
	byNet := map[string][]lnet.NIStatus{}
	var nets []string
	for _, ni := range nis {
		k := ni.NID.Net.String()
		if _, ok := byNet[k]; !ok {
			nets = append(nets, k)
		}
		byNet[k] = append(byNet[k], ni)
	}
	sort.Strings(nets)
	var b strings.Builder
	b.WriteString("net:\n")
	for _, net := range nets {
		fmt.Fprintf(&b, "    - net type: %s\n      local NI(s):\n", net)
		for _, ni := range byNet[net] {
			st := "down"
			if ni.Up {
				st = "up"
			}
			fmt.Fprintf(&b, "        - nid: %s\n          status: %s\n", ni.NID, st)
			if len(ni.Interfaces) > 0 {
				b.WriteString("          interfaces:\n")
				for i, ifc := range ni.Interfaces {
					fmt.Fprintf(&b, "              %d: %s\n", i, ifc)
				}
			}
			if verbose {
				fmt.Fprintf(&b, "          statistics:\n              send_count: %d\n              recv_count: %d\n"+
					"              drop_count: %d\n              send_bytes: %d\n              recv_bytes: %d\n"+
					"          peers: %d\n",
					ni.SendCount, ni.RecvCount, ni.DropCount, ni.SendBytes, ni.RecvBytes, ni.Peers)
			}
		}
	}
	return b.String()
}

// Close stops the control socket.
func (n *Node) Close() error { return n.Control.Close() }
