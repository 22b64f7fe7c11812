// Types shared by every hlgate.v1 service.
//
// Conventions of the hlgate.v1 package (every file follows them):
//
// Names. Resource fields mirror HighLevel's JSON field names in snake_case
// (upstream `firstName` is `first_name`), so the gateway's JSON, which uses
// proto3's lowerCamelCase JSON names, reads like HighLevel's. Where a field's
// name differs from that rule its comment gives the upstream name.
//
// Times. A point in time is a google.protobuf.Timestamp whose field keeps the
// upstream name in snake_case (`dateAdded` is `date_added`, `createdAt` is
// `created_at`); hlgate converts HighLevel's ISO-8601 strings and epoch
// milliseconds. Only values hlgate itself produces use AIP names
// (`update_time`, `expire_time`), and request time windows are `start_time` and
// `end_time`. A calendar date without a time is a "YYYY-MM-DD" string.
//
// Money. An amount is a double in the major unit of its currency, as HighLevel
// sends it (100.5 with currency "USD" is 100.50 US dollars), next to a
// `currency` field holding the ISO 4217 code HighLevel reports.
//
// Requests. Every request of a location-scoped service carries `location_id`,
// the HighLevel location (sub-account) the call acts for. List and search
// methods take `page_size` and `page_token` and return `next_page_token`;
// page tokens are opaque strings produced by hlgate, tied to the method and
// to the filters of the request that produced them. A page_size of 0 means
// 50; above a method's maximum it means the maximum; negative is
// INVALID_ARGUMENT. Updates take a
// google.protobuf.FieldMask `update_mask`; an empty mask means "the fields set
// in the message" (fields with a non-default value).
//
// Callers. Every call presents a caller key as gRPC metadata (or HTTP header)
// "authorization: Bearer <key>". A key allows some locations and a level of
// access: read (Get, List, Search), write (also Create, Update, Delete and
// the other changes) or admin (also TokensService).
//
// Errors. Every error carries a google.rpc.ErrorInfo with domain "hlgate" and
// one of the reasons below; callers branch on code and reason. When HighLevel
// answered, ErrorInfo metadata holds "upstream_status" (its HTTP status) and
// "upstream_trace_id" (its traceId, for HighLevel support).
//   - INVALID_ARGUMENT, reason INVALID_ARGUMENT: a request field is missing or
//     malformed, or nests objects or arrays more than 64 levels deep; a
//     google.rpc.BadRequest names each offending field by its path in the
//     request (`contact.email`). Reason UPSTREAM_REJECTED_REQUEST:
//     HighLevel rejected the request (HTTP 400 or 422); the message carries
//     HighLevel's. Reason REQUEST_TOO_LARGE: a REST body above the bound
//     (4 MiB by default), answered with HTTP 413 before it is decoded.
//     Over REST, a body or query parameter the gateway cannot read (an
//     unknown field or parameter, a value of another type, an enum value
//     it does not take, a time that is not RFC 3339) is INVALID_ARGUMENT
//     too, its BadRequest naming the field as the caller spelled it.
//   - UNAUTHENTICATED, reason UNAUTHENTICATED: no caller key, or an unknown
//     one.
//   - PERMISSION_DENIED, reason PERMISSION_DENIED: the caller key may not use
//     the location or lacks the access level the method needs. Reason
//     UPSTREAM_SCOPE_MISSING: the location's token lacks the scope the call
//     needs, or HighLevel denied access (HTTP 403).
//   - NOT_FOUND, reason NOT_FOUND: the resource does not exist in the
//     location.
//   - FAILED_PRECONDITION, reason LOCATION_NOT_INSTALLED: hlgate holds no
//     token for the location (install the app or import a token). Reason
//     LOCATION_REAUTH_REQUIRED: HighLevel rejected the stored token even after
//     a refresh, or rejected the location's Private Integration Token; the
//     app must be installed again, or a new token imported. Reason
//     AUTHORIZATION_CODE_REJECTED: HighLevel refused a code given to
//     TokensService.ExchangeCode (invalid, expired or already used); start
//     the install again for a new code. Reason UPSTREAM_ERROR: any other
//     HighLevel answer hlgate cannot map.
//   - ABORTED, reason UPSTREAM_ERROR: HighLevel answered a delete or status
//     change without confirming it (`succeded` false); read the resource to
//     see its state.
//   - RESOURCE_EXHAUSTED, reason RATE_LIMITED (HighLevel's 100 requests per
//     10 s window per app and location, when no slot comes before the
//     caller's deadline) or DAILY_QUOTA_EXHAUSTED (200,000 requests per day),
//     with a google.rpc.RetryInfo saying when a retry can succeed. Reason
//     UPSTREAM_ANSWER_TOO_LARGE: HighLevel's answer to
//     UpstreamService.Call is larger than a response may be (4 MiB by
//     default); ask for less.
//   - UNAVAILABLE, reason UPSTREAM_UNAVAILABLE (HighLevel unreachable or
//     HTTP 5xx), QUOTA_STORE_UNAVAILABLE or TOKEN_STORE_UNAVAILABLE (hlgate's
//     shared state), with a google.rpc.RetryInfo.
//   - DEADLINE_EXCEEDED, reason DEADLINE_EXCEEDED: the caller's deadline
//     passed before the call completed (waiting for a quota slot counts).
//   - INTERNAL, reason INTERNAL: a bug in hlgate.
//   - Errors of the transport and the gateway: NOT_FOUND, reason
//     ROUTE_NOT_FOUND (REST: no route for the path); UNIMPLEMENTED, reason
//     METHOD_NOT_ALLOWED (REST, HTTP 405: the path takes other methods) or
//     UNIMPLEMENTED (gRPC: no such method); RESOURCE_EXHAUSTED, reason
//     REQUEST_TOO_LARGE or RESPONSE_TOO_LARGE (a gRPC message above the
//     bound); CANCELLED, reason CANCELLED (the caller cancelled). Any other
//     error raised without a reason carries its code's name as reason.

// Code generated by protoc-gen-go. DO NOT EDIT.
// versions:
// 	protoc-gen-go v1.36.12-devel
// 	protoc        (unknown)
// source: hlgate/v1/common.proto

package hlgatev1

import (
	_ "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2/options"
	protoreflect "google.golang.org/protobuf/reflect/protoreflect"
	protoimpl "google.golang.org/protobuf/runtime/protoimpl"
	structpb "google.golang.org/protobuf/types/known/structpb"
	reflect "reflect"
	sync "sync"
	unsafe "unsafe"
)

const (
	// Verify that this generated code is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(20 - protoimpl.MinVersion)
	// Verify that runtime/protoimpl is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(protoimpl.MaxVersion - 20)
)

// CustomField is the value of one custom field of a contact or opportunity.
//
// Upstream reads return `{id, value}` (opportunities: `{id, fieldValue}`) and
// writes take `{id | key, field_value}`; hlgate maps both to this message.
type CustomField struct {
	state protoimpl.MessageState `protogen:"open.v1"`
	// The custom field's id (upstream `id`). On writes, set `id` or `key`.
	Id string `protobuf:"bytes,1,opt,name=id,proto3" json:"id,omitempty"`
	// The custom field's key, such as "my_custom_field" (upstream `key`). Only
	// used on writes, when `id` is empty; reads return the id.
	Key string `protobuf:"bytes,2,opt,name=key,proto3" json:"key,omitempty"`
	// The value: a string, number, boolean, list of strings or object, as the
	// field's type requires (upstream `value`, `fieldValue` or `field_value`).
	Value         *structpb.Value `protobuf:"bytes,3,opt,name=value,proto3" json:"value,omitempty"`
	unknownFields protoimpl.UnknownFields
	sizeCache     protoimpl.SizeCache
}

func (x *CustomField) Reset() {
	*x = CustomField{}
	mi := &file_hlgate_v1_common_proto_msgTypes[0]
	ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
	ms.StoreMessageInfo(mi)
}

func (x *CustomField) String() string {
	return protoimpl.X.MessageStringOf(x)
}

func (*CustomField) ProtoMessage() {}

func (x *CustomField) ProtoReflect() protoreflect.Message {
	mi := &file_hlgate_v1_common_proto_msgTypes[0]
	if x != nil {
		ms := protoimpl.X.MessageStateOf(protoimpl.Pointer(x))
		if ms.LoadMessageInfo() == nil {
			ms.StoreMessageInfo(mi)
		}
		return ms
	}
	return mi.MessageOf(x)
}

// Deprecated: Use CustomField.ProtoReflect.Descriptor instead.
func (*CustomField) Descriptor() ([]byte, []int) {
	return file_hlgate_v1_common_proto_rawDescGZIP(), []int{0}
}

func (x *CustomField) GetId() string {
	if x != nil {
		return x.Id
	}
	return ""
}

func (x *CustomField) GetKey() string {
	if x != nil {
		return x.Key
	}
	return ""
}

func (x *CustomField) GetValue() *structpb.Value {
	if x != nil {
		return x.Value
	}
	return nil
}

var File_hlgate_v1_common_proto protoreflect.FileDescriptor

const file_hlgate_v1_common_proto_rawDesc = "" +
	"\n" +
	"\x16hlgate/v1/common.proto\x12\thlgate.v1\x1a\x1cgoogle/protobuf/struct.proto\x1a.protoc-gen-openapiv2/options/annotations.proto\x1a\x17hlgate/v1/options.proto\"\xae\x01\n" +
	"\vCustomField\x12\x1b\n" +
	"\x02id\x18\x01 \x01(\tB\v\xda\xf3\x18\a\b\x012\x03keyR\x02id\x12\x10\n" +
	"\x03key\x18\x02 \x01(\tR\x03key\x12p\n" +
	"\x05value\x18\x03 \x01(\v2\x16.google.protobuf.ValueBB\xca\xf3\x188\x12\n" +
	"fieldValue\x12\x10fieldValueString\x12\vfield_value\x1a\vfield_value\xda\xf3\x18\x02\b\x06R\x05valueB\x85\x04\x92A\xca\x03\x12\xa9\x02\n" +
	"\x06hlgate\x12\x9a\x02REST gateway of hlgate's gRPC API (package hlgate.v1): one client of the HighLevel (LeadConnector) API V2 shared by every caller, with HighLevel's OAuth tokens, quota, retries and paging handled by hlgate. Every call needs a caller key in the Authorization header as \"Bearer <key>\".2\x02v12\x10application/json:\x10application/jsonZg\n" +
	"e\n" +
	"\tCallerKey\x12X\b\x02\x12CA caller key issued by the hlgate operator, sent as \"Bearer <key>\".\x1a\rAuthorization \x02b\x0f\n" +
	"\r\n" +
	"\tCallerKey\x12\x00Z5github.com/hlgate/hlgate/gen/proto/hlgate/v1;hlgatev1b\x06proto3"

var (
	file_hlgate_v1_common_proto_rawDescOnce sync.Once
	file_hlgate_v1_common_proto_rawDescData []byte
)

func file_hlgate_v1_common_proto_rawDescGZIP() []byte {
	file_hlgate_v1_common_proto_rawDescOnce.Do(func() {
		file_hlgate_v1_common_proto_rawDescData = protoimpl.X.CompressGZIP(unsafe.Slice(unsafe.StringData(file_hlgate_v1_common_proto_rawDesc), len(file_hlgate_v1_common_proto_rawDesc)))
	})
	return file_hlgate_v1_common_proto_rawDescData
}

var file_hlgate_v1_common_proto_msgTypes = make([]protoimpl.MessageInfo, 1)
var file_hlgate_v1_common_proto_goTypes = []any{
	(*CustomField)(nil),    // 0: hlgate.v1.CustomField
	(*structpb.Value)(nil), // 1: google.protobuf.Value
}
var file_hlgate_v1_common_proto_depIdxs = []int32{
	1, // 0: hlgate.v1.CustomField.value:type_name -> google.protobuf.Value
	1, // [1:1] is the sub-list for method output_type
	1, // [1:1] is the sub-list for method input_type
	1, // [1:1] is the sub-list for extension type_name
	1, // [1:1] is the sub-list for extension extendee
	0, // [0:1] is the sub-list for field type_name
}

func init() { file_hlgate_v1_common_proto_init() }
func file_hlgate_v1_common_proto_init() {
	if File_hlgate_v1_common_proto != nil {
		return
	}
	file_hlgate_v1_options_proto_init()
	type x struct{}
	out := protoimpl.TypeBuilder{
		File: protoimpl.DescBuilder{
			GoPackagePath: reflect.TypeOf(x{}).PkgPath(),
			RawDescriptor: unsafe.Slice(unsafe.StringData(file_hlgate_v1_common_proto_rawDesc), len(file_hlgate_v1_common_proto_rawDesc)),
			NumEnums:      0,
			NumMessages:   1,
			NumExtensions: 0,
			NumServices:   0,
		},
		GoTypes:           file_hlgate_v1_common_proto_goTypes,
		DependencyIndexes: file_hlgate_v1_common_proto_depIdxs,
		MessageInfos:      file_hlgate_v1_common_proto_msgTypes,
	}.Build()
	File_hlgate_v1_common_proto = out.File
	file_hlgate_v1_common_proto_goTypes = nil
	file_hlgate_v1_common_proto_depIdxs = nil
}
