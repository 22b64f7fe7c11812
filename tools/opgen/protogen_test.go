package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// protoDoc is a product without a hand-written service: a list, a create
// whose body references a component schema, and a delete whose answer
// carries the change's confirmation.
const protoDoc = `{
  "openapi": "3.0.0",
  "info": {"title": "Widgets API", "version": "1.0"},
  "paths": {
    "/widgets/": {
      "get": {
        "operationId": "list-widgets",
        "security": [{"bearer": ["widgets.readonly"]}],
        "parameters": [
          {"name": "locationId", "in": "query", "required": true, "schema": {"type": "string"}},
          {"name": "colour", "in": "query", "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WidgetList"}}}}}
      },
      "post": {
        "operationId": "create-widget",
        "security": [{"bearer": ["widgets.write"]}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateWidgetDto"}}}},
        "responses": {"201": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"widget": {"$ref": "#/components/schemas/Widget"}}}}}}}
      }
    },
    "/widgets/{widgetId}": {
      "delete": {
        "operationId": "DELETE-a-widget",
        "security": [{"bearer": ["widgets.write"]}],
        "parameters": [{"name": "widgetId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"succeded": {"type": "boolean"}}}}}}}
      }
    }
  },
  "components": {"schemas": {
    "Widget": {"type": "object", "properties": {
      "_id": {"type": "string"}, "name": {"type": "string"}, "sizeCm": {"type": "number"},
      "tags": {"type": "array", "items": {"type": "string"}},
      "meta": {"type": "object"},
      "dims": {"type": "object", "properties": {"w": {"type": "integer"}}},
      "value": {"oneOf": [{"type": "string"}, {"type": "number"}]}
    }},
    "WidgetList": {"type": "object", "properties": {"widgets": {"type": "array", "items": {"$ref": "#/components/schemas/Widget"}}}},
    "CreateWidgetDto": {"type": "object", "required": ["name"], "properties": {"locationId": {"type": "string"}, "name": {"type": "string"}}}
  }}
}
`

const protoOverlay = `overlay: 1.0.0
x-speakeasy-jsonpath: rfc9535
info: {title: fixture, version: 1.0.0}
actions:
- target: "$.paths.*[?@.operationId == 'list-widgets']"
  update:
    x-hlgate: {expose: true, access: read, safe: true, location: {in: query, name: locationId}, paging: none}
- target: "$.paths.*[?@.operationId == 'create-widget']"
  update:
    x-hlgate: {expose: true, access: write, safe: false, location: {in: body, name: locationId}, paging: none}
- target: "$.paths.*[?@.operationId == 'DELETE-a-widget']"
  update:
    x-hlgate: {expose: true, access: write, safe: false, location: none, paging: none}
`

// genProtos runs the generator over the fixture into protoDir.
func genProtos(t *testing.T, doc, protoDir string) map[string]string {
	t.Helper()
	dir, ov := fixture(t, map[string]string{"apps/widgets.json": doc, "common/common-schemas.json": sliceCommon}, "", protoOverlay)
	src, ops, err := buildAll(dir, ov)
	if err != nil {
		t.Fatal(err)
	}
	files, services, err := renderProtos(protoDir, src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeProtos(protoDir, files); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"services.go": string(services)}
	for name, b := range files {
		out[name] = string(b)
	}
	return out
}

func TestProtoGeneratesTypedService(t *testing.T) {
	protoDir := t.TempDir()
	files := genProtos(t, protoDoc, protoDir)
	svc, schemas := files["widgets_service.proto"], files[schemasFile]
	if !strings.HasPrefix(svc, genMarker+"\n") || !strings.HasPrefix(schemas, genMarker+"\n") {
		t.Fatal("a generated proto does not start with the generated-code marker")
	}
	for _, want := range []string{
		"service WidgetsService {",
		"rpc ListWidgets(ListWidgetsRequest) returns (ListWidgetsResponse) {",
		`option (hlgate.v1.upstream) = {operation_id: "list-widgets"};`,
		`option (google.api.http) = {get: "/v1/locations/{location_id}/widgets"};`,
		// A word in capitals reads as a word; the path variable is snake_case.
		"rpc DeleteAWidget(DeleteAWidgetRequest) returns (DeleteAWidgetResponse) {",
		`option (google.api.http) = {delete: "/v1/locations/{location_id}/widgets/{widget_id}"};`,
		"body: \"*\"",
		// The subject, then the parameters, then the body's properties; the
		// body's locationId is the subject itself.
		"string location_id = 1 [(google.api.field_behavior) = REQUIRED];",
		"optional string colour = 2;",
		"optional string name = 2 [(google.api.field_behavior) = REQUIRED];",
		"string widget_id = 2 [(google.api.field_behavior) = REQUIRED];",
		"repeated Widget widgets = 1;",
		"google.protobuf.Struct unmapped = 2 [(google.api.field_behavior) = OUTPUT_ONLY];",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("the service file lacks %q:\n%s", want, svc)
		}
	}
	// The delete's confirmation is the generic path's to check, not a field.
	if regexp.MustCompile(`message DeleteAWidgetResponse \{[^}]*succeded`).MatchString(svc) {
		t.Error("DeleteAWidgetResponse carries the succeded confirmation")
	}
	for _, want := range []string{
		"message Widget {",
		`optional string id = 1 [json_name = "_id"];`,
		"optional double size_cm = 3;",
		"repeated string tags = 4;",
		"google.protobuf.Struct meta = 5;",
		"Dims dims = 6;",
		"message Dims {",
		"optional int64 w = 1;",
		"google.protobuf.Value value = 7;",
	} {
		if !strings.Contains(schemas, want) {
			t.Errorf("the schemas file lacks %q:\n%s", want, schemas)
		}
	}
	if !strings.Contains(files["services.go"], "hlgatev1.WidgetsService_ServiceDesc") {
		t.Errorf("gen/genservices does not list WidgetsService:\n%s", files["services.go"])
	}
}

// Regenerating keeps every field's number; a field that is gone leaves
// its number and name reserved, and a new one takes a fresh number.
func TestProtoFieldNumbersNeverMove(t *testing.T) {
	protoDir := t.TempDir()
	genProtos(t, protoDoc, protoDir)
	// The document drops sizeCm and adds colour before tags.
	changed := strings.Replace(protoDoc, `"sizeCm": {"type": "number"},`, `"colour": {"type": "string"},`, 1)
	files := genProtos(t, changed, protoDir)
	schemas := files[schemasFile]
	for _, want := range []string{
		"reserved 3;", `reserved "size_cm";`, "optional string colour = 9;", "repeated string tags = 4;", "google.protobuf.Value value = 7;",
		// unmapped keeps its number; the new field takes the next.
		"google.protobuf.Struct unmapped = 8 [",
	} {
		if !strings.Contains(schemas, want) {
			t.Errorf("after the change the schemas file lacks %q:\n%s", want, schemas)
		}
	}
	// Once more: what is reserved stays reserved, by number and by name.
	if again := genProtos(t, changed, protoDir)[schemasFile]; again != schemas {
		t.Errorf("regenerating an unchanged document changed the schemas file:\n%s", again)
	}
	// A generated file no longer written (the product got a hand-written
	// service) is removed; a hand-written file is never touched.
	hand := filepath.Join(protoDir, "widgets_service.proto")
	if err := os.WriteFile(hand, []byte("// hand-written\nsyntax = \"proto3\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files = genProtos(t, changed, protoDir)
	if _, ok := files["widgets_service.proto"]; ok {
		t.Error("a product with a hand-written service was generated too")
	}
	if b, err := os.ReadFile(hand); err != nil || !strings.HasPrefix(string(b), "// hand-written") {
		t.Errorf("the hand-written service file was changed: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(protoDir, schemasFile)); err == nil {
		t.Error("the schemas file of no generated service is still there")
	}
}

func TestProtoNames(t *testing.T) {
	for in, want := range map[string]string{
		"locationId": "location_id", "_id": "id", "dndSettings": "dnd_settings", "URL": "url", "userIDs": "user_ids",
		"address1": "address1", "line_1": "line1", "Content-Type": "content_type", "2fa": "f_2fa", "HTMLBody": "html_body",
	} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"get-contact": "GetContact", "GET-all-or-email-sms-templates": "GetAllOrEmailSmsTemplates",
		"deleteSchedule": "DeleteSchedule", "text2pay-invoice": "Text2payInvoice", "workflows": "Workflows",
	} {
		if got := upperCamel(in); got != want {
			t.Errorf("upperCamel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"/workflows/":                             "/v1/locations/{location_id}/workflows",
		"/locations/{locationId}/tags/{tagId}":    "/v1/locations/{location_id}/tags/{tag_id}",
		"/conversations/messages/{id}":            "/v1/locations/{location_id}/conversations/messages/{id}",
		"/x/{messageId}/locations/{locationId}/y": "/v1/x/{message_id}/locations/{location_id}/y",
	} {
		if got := restPath(in, false); got != want {
			t.Errorf("restPath(%q) = %q, want %q", in, got, want)
		}
	}
	// An agency operation's subject is the company.
	if got, want := restPath("/locations/{locationId}", true), "/v1/companies/{company_id}/locations/{location_id}"; got != want {
		t.Errorf("restPath of an agency operation = %q, want %q", got, want)
	}
	if !(routeOrder("/users/{userId}") < routeOrder("/users/search")) {
		t.Error("a variable segment must sort before a literal one, so the gateway tries the literal first")
	}
}

// An operation whose messages are hand-written (x-hlgate.rpc) keeps its
// name, messages, route and doc; the generator writes its RPC into the
// product's service beside the generated ones and imports the hand file.
func TestProtoHandWrittenMessages(t *testing.T) {
	protoDir := t.TempDir()
	hand := "syntax = \"proto3\";\npackage hlgate.v1;\n\n// Widgets.\nmessage ListAllWidgetsRequest {\n  // The location.\n  string location_id = 1;\n  oneof which {\n    // A colour.\n    string colour = 2;\n  }\n}\n\n// Widgets.\nmessage ListAllWidgetsResponse {\n  // x.\n  string x = 1;\n}\n"
	if err := os.WriteFile(filepath.Join(protoDir, "widgets.proto"), []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	withRPC := protoOverlay + `- target: "$.paths.*[?@.operationId == 'list-widgets']"
  update:
    x-hlgate:
      rpc: {name: ListAllWidgets, request: ListAllWidgetsRequest, response: ListAllWidgetsResponse, http: "post /v1/locations/{location_id}/widgets:list", body: "*", upstreamBody: filter, doc: ListAllWidgets lists them.}
`
	dir, ov := fixture(t, map[string]string{"apps/widgets.json": protoDoc, "common/common-schemas.json": sliceCommon}, "", withRPC)
	src, ops, err := buildAll(dir, ov)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := renderProtos(protoDir, src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	svc := string(files["widgets_service.proto"])
	for _, want := range []string{
		`import "hlgate/v1/widgets.proto";`,
		"  // ListAllWidgets lists them.\n  rpc ListAllWidgets(ListAllWidgetsRequest) returns (ListAllWidgetsResponse) {",
		"operation_id: \"list-widgets\"\n      body: \"filter\"",
		"post: \"/v1/locations/{location_id}/widgets:list\"\n      body: \"*\"",
		"rpc CreateWidget(CreateWidgetRequest) returns (CreateWidgetResponse) {",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("the service lacks %q:\n%s", want, svc)
		}
	}
	if strings.Contains(svc, "message ListWidgetsRequest") || strings.Contains(svc, "message ListAllWidgetsRequest") {
		t.Error("messages were generated for an operation whose messages are hand-written")
	}
	// A message no hand-written file declares stops the generator.
	missing := strings.Replace(withRPC, "response: ListAllWidgetsResponse", "response: NoSuchResponse", 1)
	dir, ov = fixture(t, map[string]string{"apps/widgets.json": protoDoc, "common/common-schemas.json": sliceCommon}, "", missing)
	src, ops, err = buildAll(dir, ov)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := renderProtos(protoDir, src.docs, src.common, ops); err == nil || !strings.Contains(err.Error(), "NoSuchResponse") {
		t.Fatalf("renderProtos with a missing hand-written message: %v", err)
	}
}

// A field whose options hold braces ((hlgate.v1.wire) = {…}) is read back
// with its number, and opens no block.
func TestProtoReadsNumbersOfFieldsWithOptionBraces(t *testing.T) {
	dir := t.TempDir()
	src := genMarker + "\nsyntax = \"proto3\";\npackage hlgate.v1;\n\n// X.\nmessage X {\n  // s.\n  string location_id = 7 [(google.api.field_behavior) = REQUIRED, (hlgate.v1.wire) = {name: \"altId\"}];\n  // o.\n  oneof k {\n    // a.\n    string a = 3;\n  }\n  // b.\n  optional string b = 4;\n}\n\n// Y.\nmessage Y {\n  // c.\n  string c = 9;\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "x_service.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, numbers, err := readProtoDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if numbers["X"]["location_id"] != 7 || numbers["X"]["a"] != 3 || numbers["X"]["b"] != 4 || numbers["Y"]["c"] != 9 {
		t.Fatalf("numbers = %v", numbers)
	}
}

// An answer's member the document declares nullable (a search that may
// find nothing) is OPTIONAL, so the generic path takes an answer without
// it; a member not nullable stays without a behavior, and its absence is a
// missing body.
func TestProtoNullableAnswerMemberIsOptional(t *testing.T) {
	doc := strings.Replace(protoDoc,
		`"properties": {"widget": {"$ref": "#/components/schemas/Widget"}}`,
		`"properties": {"widget": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/Widget"}]}}`, 1)
	if doc == protoDoc {
		t.Fatal("the fixture has no create-widget answer to make nullable")
	}
	svc := genProtos(t, doc, t.TempDir())["widgets_service.proto"]
	if !regexp.MustCompile(`message CreateWidgetResponse \{[^}]*Widget widget = 1 \[\(google.api.field_behavior\) = OPTIONAL\];`).MatchString(svc) {
		t.Errorf("CreateWidgetResponse.widget is not OPTIONAL:\n%s", svc)
	}
	plain := genProtos(t, protoDoc, t.TempDir())["widgets_service.proto"]
	if !regexp.MustCompile(`message CreateWidgetResponse \{[^}]*Widget widget = 1;`).MatchString(plain) {
		t.Errorf("CreateWidgetResponse.widget has a behavior where the document does not say nullable:\n%s", plain)
	}
}

// A schema two documents declare alike is one schema of the slice, so one
// message, however many operations of either document reach it.
func TestProtoSharedSchemaIsOneMessage(t *testing.T) {
	doc := func(product string) string {
		return `{
  "openapi": "3.0.0",
  "info": {"title": "` + product + `", "version": "1.0"},
  "paths": {
    "/` + product + `/": {
      "post": {
        "operationId": "create-` + product + `",
        "security": [{"bearer": ["` + product + `.write"]}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
          "locationId": {"type": "string"}, "cheque": {"$ref": "#/components/schemas/ChequeDto"}}}}}},
        "responses": {"201": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}}}}
      }
    }
  },
  "components": {"schemas": {
    "ChequeDto": {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}}
  }}
}
`
	}
	ov := `overlay: 1.0.0
x-speakeasy-jsonpath: rfc9535
info: {title: fixture, version: 1.0.0}
actions:
- target: "$.paths.*[?@.operationId == 'create-widgets' || @.operationId == 'create-gadgets']"
  update:
    x-hlgate: {expose: true, access: write, safe: false, location: {in: body, name: locationId}, paging: none}
`
	dir, ovPath := fixture(t, map[string]string{"apps/widgets.json": doc("widgets"), "apps/gadgets.json": doc("gadgets"), "common/common-schemas.json": sliceCommon}, "", ov)
	src, ops, err := buildAll(dir, ovPath)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := renderProtos(t.TempDir(), src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	schemas := string(files[schemasFile])
	if n := strings.Count(schemas, "message ChequeDto {"); n != 1 {
		t.Fatalf("ChequeDto is declared %d times, want once:\n%s", n, schemas)
	}
	for _, svc := range []string{"widgets_service.proto", "gadgets_service.proto"} {
		if !strings.Contains(string(files[svc]), "ChequeDto cheque = 2;") {
			t.Errorf("%s does not use ChequeDto:\n%s", svc, files[svc])
		}
	}
}

// filesDoc uploads a multipart form (a text, a list of files) and answers a
// recording of bytes.
const filesDoc = `{
  "openapi": "3.0.0",
  "info": {"title": "Widgets", "version": "1.0"},
  "paths": {
    "/widgets/upload": {
      "post": {
        "operationId": "upload-widget-files",
        "security": [{"bearer": ["widgets.write"]}],
        "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["locationId", "file"], "properties": {
          "locationId": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
          "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"uploadedFiles": {"type": "object"}}}}}}}
      }
    },
    "/widgets/{widgetId}/recording": {
      "get": {
        "operationId": "get-widget-recording",
        "security": [{"bearer": ["widgets.readonly"]}],
        "parameters": [{"name": "widgetId", "in": "path", "required": true, "schema": {"type": "string"}},
          {"name": "locationId", "in": "query", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok", "content": {"audio/x-wav": {"schema": {"type": "string", "format": "binary"}}}}}
      }
    }
  }
}
`

// A multipart body's file parts are hlgate.v1.File fields beside its typed
// texts, and an answer of bytes is google.api.HttpBody; both need maxBytes.
func TestProtoFilesAndBytes(t *testing.T) {
	ov := func(upload, recording string) string {
		return `overlay: 1.0.0
x-speakeasy-jsonpath: rfc9535
info: {title: fixture, version: 1.0.0}
actions:
- target: "$.paths.*[?@.operationId == 'upload-widget-files']"
  update:
    x-hlgate: {expose: true, access: write, safe: false, location: {in: body, name: locationId}, paging: none` + upload + `}
- target: "$.paths.*[?@.operationId == 'get-widget-recording']"
  update:
    x-hlgate: {expose: true, access: read, safe: true, location: {in: query, name: locationId}, paging: none` + recording + `}
`
	}
	docs := map[string]string{"apps/widgets.json": filesDoc, "common/common-schemas.json": sliceCommon}
	for _, tc := range []struct{ name, upload, recording string }{
		{"upload without maxBytes", "", ", maxBytes: 100"},
		{"recording without maxBytes", ", maxBytes: 100", ""},
	} {
		dir, ovPath := fixture(t, docs, "", ov(tc.upload, tc.recording))
		if _, _, err := buildAll(dir, ovPath); err == nil || !strings.Contains(err.Error(), "maxBytes") {
			t.Errorf("%s: build error %v, want one naming maxBytes", tc.name, err)
		}
	}
	dir, ovPath := fixture(t, docs, "", ov(", maxBytes: 100", ", maxBytes: 200"))
	src, ops, err := buildAll(dir, ovPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if want := map[string]int64{"upload-widget-files": 100, "get-widget-recording": 200}[o.ID]; o.MaxBytes != want {
			t.Errorf("%s: MaxBytes %d, want %d", o.ID, o.MaxBytes, want)
		}
	}
	protoDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(protoDir, "files.proto"), []byte("syntax = \"proto3\";\npackage hlgate.v1;\nmessage File {\n  string filename = 1;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, _, err := renderProtos(protoDir, src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	svc := string(files["widgets_service.proto"])
	for _, want := range []string{
		`import "google/api/httpbody.proto";`,
		`import "hlgate/v1/files.proto";`,
		"rpc GetWidgetRecording(GetWidgetRecordingRequest) returns (google.api.HttpBody)",
		"repeated File file = ",
		"repeated string tags = ",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("the service lacks %q:\n%s", want, svc)
		}
	}
	if strings.Contains(svc, "message GetWidgetRecordingResponse") || strings.Contains(svc, "message HttpBody") {
		t.Errorf("the answer of bytes got a message of its own:\n%s", svc)
	}
}

// A request's schema bounds become (hlgate.v1.check) options, and a
// component's required members REQUIRED, in the service's messages and in
// the component messages alike; the schemas file then imports the options.
func TestProtoSchemaBoundsAndNestedRequired(t *testing.T) {
	doc := `{
  "openapi": "3.0.0",
  "info": {"title": "Widgets", "version": "1.0"},
  "paths": {
    "/widgets/": {
      "post": {
        "operationId": "create-widget",
        "security": [{"bearer": ["widgets.write"]}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
          "locationId": {"type": "string"}, "name": {"type": "string", "maxLength": 40},
          "urls": {"type": "array", "maxItems": 5, "items": {"type": "string", "maxLength": 200}},
          "parts": {"type": "array", "items": {"$ref": "#/components/schemas/PartDto"}}}}}}},
        "responses": {"201": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}}}}
      }
    }
  },
  "components": {"schemas": {
    "PartDto": {"type": "object", "required": ["qty"], "properties": {"qty": {"type": "number", "minimum": 1}, "note": {"type": "string"}}}
  }}
}
`
	ov := `overlay: 1.0.0
x-speakeasy-jsonpath: rfc9535
info: {title: fixture, version: 1.0.0}
actions:
- target: "$.paths.*[?@.operationId == 'create-widget']"
  update:
    x-hlgate: {expose: true, access: write, safe: false, location: {in: body, name: locationId}, paging: none}
`
	dir, ovPath := fixture(t, map[string]string{"apps/widgets.json": doc, "common/common-schemas.json": sliceCommon}, "", ov)
	src, ops, err := buildAll(dir, ovPath)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := renderProtos(t.TempDir(), src.docs, src.common, ops)
	if err != nil {
		t.Fatal(err)
	}
	svc, schemas := string(files["widgets_service.proto"]), string(files[schemasFile])
	for _, want := range []string{
		`optional string name = 2 [(hlgate.v1.check) = {max_len: 40}];`,
		`repeated string urls = 3 [(hlgate.v1.check) = {max_len: 5, max_item_len: 200}];`,
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("widgets_service.proto lacks %s:\n%s", want, svc)
		}
	}
	for _, want := range []string{
		`import "hlgate/v1/options.proto";`,
		`optional double qty = 1 [(google.api.field_behavior) = REQUIRED, (hlgate.v1.check) = {min: 1}];`,
		`optional string note = 2;`,
	} {
		if !strings.Contains(schemas, want) {
			t.Errorf("%s lacks %s:\n%s", schemasFile, want, schemas)
		}
	}
}
