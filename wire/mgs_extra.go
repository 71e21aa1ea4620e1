package wire

// SetParamRequest is MGS_SET_INFO as Stria uses it: `lctl set_param -P`
// (and `-P -d`). The MGS stores the parameter persistently and every node
// learns it with the next configuration it reads.
//
// FSName scopes the parameter to one file system (Lustre's conf_param
// records in the file system's logs); empty puts it in the global "params"
// list that every file system on this MGS receives. Param is "key=value";
// with Delete it is the key alone (a "=value" part is ignored).
type SetParamRequest struct {
	FSName string
	Param  string
	Delete bool
}

// Encode implements Body.
func (r *SetParamRequest) Encode(e *Encoder) {
	e.String(r.FSName)
	e.String(r.Param)
	e.Bool(r.Delete)
}

// Decode implements Body.
func (r *SetParamRequest) Decode(d *Decoder) {
	r.FSName = d.String(MaxNameLen)
	r.Param = d.String(MaxParamLen)
	r.Delete = d.Bool()
	if d.Err() == nil && r.Param == "" {
		d.Fail("empty parameter")
	}
}

// SetParamReply answers SetParamRequest with the configuration generation
// that includes the change (for a global parameter: the MGS-wide
// generation every file system's configuration now has at least).
type SetParamReply struct {
	Gen uint64
}

// Encode implements Body.
func (r *SetParamReply) Encode(e *Encoder) { e.U64(r.Gen) }

// Decode implements Body.
func (r *SetParamReply) Decode(d *Decoder) { r.Gen = d.U64() }
