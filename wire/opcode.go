package wire

import "strconv"

// Opcode names an RPC. The values are Lustre's (lustre_idl.h), grouped by
// service, so that logs and `lctl get_param *.stats` read as Lustre's.
type Opcode uint32

// OST (object storage) opcodes.
const (
	OSTGetattr    Opcode = 1
	OSTSetattr    Opcode = 2
	OSTRead       Opcode = 3
	OSTWrite      Opcode = 4
	OSTCreate     Opcode = 5
	OSTDestroy    Opcode = 6
	OSTGetInfo    Opcode = 7
	OSTConnect    Opcode = 8
	OSTDisconnect Opcode = 9
	OSTPunch      Opcode = 10
	OSTStatfs     Opcode = 13
	OSTSync       Opcode = 16
	OSTSetInfo    Opcode = 17
	OSTQuotactl   Opcode = 19
	OSTLadvise    Opcode = 21
	OSTFallocate  Opcode = 22
	OSTSeek       Opcode = 23
)

// MDS (metadata) opcodes.
const (
	MDSGetattr     Opcode = 33
	MDSGetattrName Opcode = 34
	MDSClose       Opcode = 35
	MDSReint       Opcode = 36
	MDSReadpage    Opcode = 37
	MDSConnect     Opcode = 38
	MDSDisconnect  Opcode = 39
	// MDSGetRoot is Lustre's MDS_GET_ROOT (formerly MDS_GETSTATUS).
	MDSGetRoot     Opcode = 40
	MDSStatfs      Opcode = 41
	MDSSync        Opcode = 44
	MDSSetInfo     Opcode = 46
	MDSQuotactl    Opcode = 48
	MDSGetxattr    Opcode = 49
	MDSSetxattr    Opcode = 50
	MDSGetInfo     Opcode = 53
	MDSSwapLayouts Opcode = 61
	MDSRmfid       Opcode = 62
)

// LDLM (lock manager) opcodes.
const (
	LDLMEnqueue    Opcode = 101
	LDLMConvert    Opcode = 102
	LDLMCancel     Opcode = 103
	LDLMBLCallback Opcode = 104 // blocking AST
	LDLMCPCallback Opcode = 105 // completion AST
	LDLMGLCallback Opcode = 106 // glimpse AST
	LDLMSetInfo    Opcode = 107
)

// MGS (management) opcodes.
const (
	MGSConnect    Opcode = 250
	MGSDisconnect Opcode = 251
	MGSException  Opcode = 252
	MGSTargetReg  Opcode = 253
	MGSTargetDel  Opcode = 254
	MGSSetInfo    Opcode = 255
	MGSConfigRead Opcode = 256
)

// Generic, llog, quota, sequence, FLD and OUT opcodes.
const (
	OBDPing                 Opcode = 400
	LLOGOriginHandleCreate  Opcode = 501
	LLOGOriginHandleNext    Opcode = 502
	LLOGOriginHandleReadHdr Opcode = 503
	LLOGOriginHandleClose   Opcode = 505
	LLOGOriginHandlePrev    Opcode = 508
	LLOGOriginHandleDestroy Opcode = 509
	QuotaDQAcq              Opcode = 601
	QuotaDQRel              Opcode = 602
	SeqQuery                Opcode = 700
	FLDQuery                Opcode = 900
	FLDRead                 Opcode = 901
	OUTUpdate               Opcode = 1000
)

// String returns Lustre's name for the opcode as its statistics print it
// ("ost_write", "mds_reint", "obd_ping"), or "opc_N" for an unknown one.
func (o Opcode) String() string {
	switch o {
	case OSTGetattr:
		return "ost_getattr"
	case OSTSetattr:
		return "ost_setattr"
	case OSTRead:
		return "ost_read"
	case OSTWrite:
		return "ost_write"
	case OSTCreate:
		return "ost_create"
	case OSTDestroy:
		return "ost_destroy"
	case OSTGetInfo:
		return "ost_get_info"
	case OSTConnect:
		return "ost_connect"
	case OSTDisconnect:
		return "ost_disconnect"
	case OSTPunch:
		return "ost_punch"
	case OSTStatfs:
		return "ost_statfs"
	case OSTSync:
		return "ost_sync"
	case OSTSetInfo:
		return "ost_set_info"
	case OSTQuotactl:
		return "ost_quotactl"
	case OSTLadvise:
		return "ost_ladvise"
	case OSTFallocate:
		return "ost_fallocate"
	case OSTSeek:
		return "ost_seek"
	case MDSGetattr:
		return "mds_getattr"
	case MDSGetattrName:
		return "mds_getattr_lock"
	case MDSClose:
		return "mds_close"
	case MDSReint:
		return "mds_reint"
	case MDSReadpage:
		return "mds_readpage"
	case MDSConnect:
		return "mds_connect"
	case MDSDisconnect:
		return "mds_disconnect"
	case MDSGetRoot:
		return "mds_get_root"
	case MDSStatfs:
		return "mds_statfs"
	case MDSSync:
		return "mds_sync"
	case MDSSetInfo:
		return "mds_set_info"
	case MDSQuotactl:
		return "mds_quotactl"
	case MDSGetxattr:
		return "mds_getxattr"
	case MDSSetxattr:
		return "mds_setxattr"
	case MDSGetInfo:
		return "mds_get_info"
	case MDSSwapLayouts:
		return "mds_swap_layouts"
	case MDSRmfid:
		return "mds_rmfid"
	case LDLMEnqueue:
		return "ldlm_enqueue"
	case LDLMConvert:
		return "ldlm_convert"
	case LDLMCancel:
		return "ldlm_cancel"
	case LDLMBLCallback:
		return "ldlm_bl_callback"
	case LDLMCPCallback:
		return "ldlm_cp_callback"
	case LDLMGLCallback:
		return "ldlm_gl_callback"
	case LDLMSetInfo:
		return "ldlm_set_info"
	case MGSConnect:
		return "mgs_connect"
	case MGSDisconnect:
		return "mgs_disconnect"
	case MGSException:
		return "mgs_exception"
	case MGSTargetReg:
		return "mgs_target_reg"
	case MGSTargetDel:
		return "mgs_target_del"
	case MGSSetInfo:
		return "mgs_set_info"
	case MGSConfigRead:
		return "mgs_config_read"
	case OBDPing:
		return "obd_ping"
	case LLOGOriginHandleCreate:
		return "llog_origin_handle_open"
	case LLOGOriginHandleNext:
		return "llog_origin_handle_next_block"
	case LLOGOriginHandleReadHdr:
		return "llog_origin_handle_read_header"
	case LLOGOriginHandleClose:
		return "llog_origin_handle_close"
	case LLOGOriginHandlePrev:
		return "llog_origin_handle_prev_block"
	case LLOGOriginHandleDestroy:
		return "llog_origin_handle_destroy"
	case QuotaDQAcq:
		return "quota_acquire"
	case QuotaDQRel:
		return "quota_release"
	case SeqQuery:
		return "seq_query"
	case FLDQuery:
		return "fld_query"
	case FLDRead:
		return "fld_read"
	case OUTUpdate:
		return "out_update"
	}
	return "opc_" + strconv.FormatUint(uint64(o), 10)
}

// IsConnect reports whether o is one of the connect opcodes, which a
// service handles itself (see ptlrpc).
func (o Opcode) IsConnect() bool {
	return o == OSTConnect || o == MDSConnect || o == MGSConnect
}

// IsDisconnect reports whether o is one of the disconnect opcodes.
func (o Opcode) IsDisconnect() bool {
	return o == OSTDisconnect || o == MDSDisconnect || o == MGSDisconnect
}
