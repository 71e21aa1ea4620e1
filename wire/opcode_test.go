package wire

import "testing"

func TestOpcode(t *testing.T) {
	cases := map[Opcode]string{
		OSTRead: "ost_read", OSTWrite: "ost_write", MDSReint: "mds_reint", MDSGetRoot: "mds_get_root",
		LDLMEnqueue: "ldlm_enqueue", MGSConfigRead: "mgs_config_read", OBDPing: "obd_ping",
		SeqQuery: "seq_query", FLDQuery: "fld_query", Opcode(9999): "opc_9999",
	}
	for o, want := range cases {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", uint32(o), o.String(), want)
		}
	}
	// Lustre's numbers: a few that other implementations must agree on.
	if OSTRead != 3 || OSTConnect != 8 || MDSConnect != 38 || LDLMCPCallback != 105 || MGSConnect != 250 || OBDPing != 400 {
		t.Fatal("opcode numbers moved")
	}
	for _, o := range []Opcode{OSTConnect, MDSConnect, MGSConnect} {
		if !o.IsConnect() || o.IsDisconnect() {
			t.Errorf("%v", o)
		}
	}
	for _, o := range []Opcode{OSTDisconnect, MDSDisconnect, MGSDisconnect} {
		if o.IsConnect() || !o.IsDisconnect() {
			t.Errorf("%v", o)
		}
	}
}
