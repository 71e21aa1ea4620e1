package wire

// LNet portals of the services and their clients: Lustre's numbers
// (lustre_idl.h), so a packet trace reads the same. A service posts request
// buffers on its request portal; a client posts reply buffers on its reply
// portal and bulk buffers on the service's bulk portal.
const (
	ConnMgrRequestPortal    = 1
	ConnMgrReplyPortal      = 2
	OSCReplyPortal          = 4
	OSTIOPortal             = 6
	OSTCreatePortal         = 7
	OSTBulkPortal           = 8
	MDCReplyPortal          = 10
	MDSRequestPortal        = 12
	MDSIOPortal             = 13
	MDSBulkPortal           = 14
	LDLMCBRequestPortal     = 15
	LDLMCBReplyPortal       = 16
	LDLMCancelRequestPortal = 17
	LDLMCancelReplyPortal   = 18
	MDSSetattrPortal        = 22
	MDSReadpagePortal       = 23
	OUTPortal               = 24
	MGCReplyPortal          = 25
	MGSRequestPortal        = 26
	MGSReplyPortal          = 27
	OSTRequestPortal        = 28
	FLDRequestPortal        = 29
	SeqMetadataPortal       = 30
	SeqDataPortal           = 31
	SeqControllerPortal     = 32
	MGSBulkPortal           = 33
)
