// Command thirdpartyproto writes the .proto files that hlgate's API imports
// from other projects into third_party/proto:
//
//   - google/api/annotations.proto, http.proto, field_behavior.proto and
//     httpbody.proto (googleapis, Apache-2.0);
//   - google/rpc/status.proto, error_details.proto and code.proto
//     (googleapis, Apache-2.0): hlgate's errors are a google.rpc.Status whose
//     details are ErrorInfo, BadRequest and RetryInfo, and a client in
//     another language decodes them with code generated from these files;
//   - protoc-gen-openapiv2/options/annotations.proto and openapiv2.proto
//     (grpc-gateway, BSD-3-Clause), with that project's LICENSE.
//
// No schema registry is reachable from where hlgate is built, so buf cannot
// fetch them as dependencies. They are taken from the Go modules pinned in
// tools/go.mod, which the generated Go code also links against, so the proto
// source and the Go runtime can never disagree about a package, option or
// field number:
//
//   - the googleapis files are printed from the descriptors compiled into
//     google.golang.org/genproto/googleapis/api and .../googleapis/rpc (the
//     versions the server links, so the details it sends are the ones
//     these files declare), under the license header
//     googleapis put on them (copied by protoc-gen-go into the .pb.go files);
//     those descriptors carry no comments, so the printed files hold the
//     declarations only;
//   - the grpc-gateway files ship as .proto sources in its module and are
//     copied byte for byte.
//
// Before anything is written, every file is compiled with protocompile and its
// descriptor is compared with the one embedded in the Go package; any
// difference is an error.
//
// Run from the repository root:
//
//	go -C tools run ./thirdpartyproto -out ../third_party/proto
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2/options"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// provenanceNote follows the license header of a printed googleapis file so
// that a reader knows why the upstream comments are missing and how the file
// is refreshed.
func provenanceNote(module string) string {
	return `// This file declares exactly what googleapis/googleapis declares (package,
// options, names, field numbers); it is printed from the descriptor compiled
// into ` + module + ` by tools/thirdpartyproto.
// Upstream documentation comments are not part of that descriptor.
// Do not edit: run "go -C tools run ./thirdpartyproto -out ../third_party/proto".
`
}

// printed lists the googleapis descriptors to print, in dependency order.
var printed = []protoreflect.FileDescriptor{
	annotations.File_google_api_http_proto,
	annotations.File_google_api_annotations_proto,
	annotations.File_google_api_field_behavior_proto,
	httpbody.File_google_api_httpbody_proto,
	code.File_google_rpc_code_proto,
	status.File_google_rpc_status_proto,
	errdetails.File_google_rpc_error_details_proto,
}

// gatewayModule ships protoc-gen-openapiv2's options as .proto sources.
const gatewayModule = "github.com/grpc-ecosystem/grpc-gateway/v2"

// copied lists the grpc-gateway descriptors whose sources are copied; a
// file's path in the module is its import path.
var copied = []protoreflect.FileDescriptor{
	options.File_protoc_gen_openapiv2_options_openapiv2_proto,
	options.File_protoc_gen_openapiv2_options_annotations_proto,
}

// gatewayLicense is where grpc-gateway's license is written, beside its files.
const gatewayLicense = "protoc-gen-openapiv2/LICENSE"

func main() {
	out := flag.String("out", "third_party/proto", "root directory of the printed .proto files")
	flag.Parse()
	if err := run(*out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "thirdpartyproto:", err)
		os.Exit(1)
	}
}

func run(out string, log io.Writer) error {
	genprotoDirs, err := moduleDirs(genprotoModules)
	if err != nil {
		return err
	}
	gatewayDir, err := moduleDir(gatewayModule)
	if err != nil {
		return err
	}
	sources := make(map[string]string, len(printed)+len(copied))
	var want []protoreflect.FileDescriptor
	for _, fd := range printed {
		module, header, err := licenseHeader(genprotoDirs, fd)
		if err != nil {
			return err
		}
		text, err := printFile(module, header, protodesc.ToFileDescriptorProto(fd))
		if err != nil {
			return fmt.Errorf("print %s: %w", fd.Path(), err)
		}
		sources[fd.Path()] = text
		want = append(want, fd)
	}
	for _, fd := range copied {
		data, err := os.ReadFile(filepath.Join(gatewayDir, filepath.FromSlash(fd.Path())))
		if err != nil {
			return fmt.Errorf("read %s: %w", fd.Path(), err)
		}
		sources[fd.Path()] = string(data)
		want = append(want, fd)
	}
	if err := verify(sources, want); err != nil {
		return err
	}
	license, err := os.ReadFile(filepath.Join(gatewayDir, "LICENSE"))
	if err != nil {
		return fmt.Errorf("read grpc-gateway license: %w", err)
	}
	outputs := map[string][]byte{gatewayLicense: license}
	for path, text := range sources {
		outputs[path] = []byte(text)
	}
	paths := make([]string, 0, len(outputs))
	for path := range outputs {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		dst := filepath.Join(out, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create directory for %s: %w", dst, err)
		}
		if err := os.WriteFile(dst, outputs[path], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		fmt.Fprintln(log, "wrote", dst)
	}
	return nil
}

// genprotoModules are the Go modules whose descriptors are printed.
var genprotoModules = []string{
	"google.golang.org/genproto/googleapis/api",
	"google.golang.org/genproto/googleapis/rpc",
}

// moduleDirs is moduleDir of each module, by module path.
func moduleDirs(modules []string) (map[string]string, error) {
	dirs := make(map[string]string, len(modules))
	for _, m := range modules {
		dir, err := moduleDir(m)
		if err != nil {
			return nil, err
		}
		dirs[m] = dir
	}
	return dirs, nil
}

// moduleDir asks the go command where the pinned module's source lives.
func moduleDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("locate module %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("locate module %s: not downloaded (run go mod download)", module)
	}
	return dir, nil
}

// licenseHeader returns the genproto module a .proto file's descriptor is
// compiled into (the one of dirs its go_package lies in) and the license
// comment googleapis put on the file. protoc-gen-go copies that comment to
// the top of the generated .pb.go, so it is read from there (the package
// directory its go_package names): the leading comment lines up to the first
// blank line.
func licenseHeader(dirs map[string]string, fd protoreflect.FileDescriptor) (module, header string, err error) {
	protoPath := fd.Path()
	goPkg, _, _ := strings.Cut(fd.Options().(*descriptorpb.FileOptions).GetGoPackage(), ";")
	var pkgDir, moduleDir string
	for m, dir := range dirs {
		if rest, ok := strings.CutPrefix(goPkg, m+"/"); ok {
			module, pkgDir, moduleDir = m, rest, dir
		}
	}
	if module == "" {
		return "", "", fmt.Errorf("%s: go_package %q is in none of %v", protoPath, goPkg, genprotoModules)
	}
	goFile := filepath.Join(moduleDir, filepath.FromSlash(pkgDir), strings.TrimSuffix(filepath.Base(protoPath), ".proto")+".pb.go")
	data, err := os.ReadFile(goFile)
	if err != nil {
		return "", "", fmt.Errorf("read license header of %s: %w", protoPath, err)
	}
	var b strings.Builder
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "//") {
			break
		}
		b.WriteString(line)
	}
	header = b.String()
	if !strings.Contains(header, "Licensed under the Apache License, Version 2.0") {
		return "", "", fmt.Errorf("%s: no Apache-2.0 license header found", goFile)
	}
	return module, header, nil
}

// verify compiles the printed sources and checks that each one yields the
// embedded descriptor, so a printing mistake can never reach the repository.
func verify(sources map[string]string, files []protoreflect.FileDescriptor) error {
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(sources),
		}),
	}
	paths := make([]string, 0, len(files))
	for _, fd := range files {
		paths = append(paths, fd.Path())
	}
	compiled, err := compiler.Compile(context.Background(), paths...)
	if err != nil {
		return fmt.Errorf("compile printed files: %w", err)
	}
	var errs []error
	for i, fd := range files {
		want := normalize(protodesc.ToFileDescriptorProto(fd))
		got := normalize(protodesc.ToFileDescriptorProto(compiled[i]))
		if !proto.Equal(want, got) {
			errs = append(errs, fmt.Errorf("%s: source does not compile to the descriptor embedded in the Go package", fd.Path()))
		}
	}
	return errors.Join(errs...)
}

// normalize drops what a compiler may or may not fill in without changing
// the meaning of a file: source info and default JSON names.
func normalize(fdp *descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorProto {
	fdp = proto.CloneOf(fdp)
	fdp.SourceCodeInfo = nil
	var fixFields func(fields []*descriptorpb.FieldDescriptorProto)
	fixFields = func(fields []*descriptorpb.FieldDescriptorProto) {
		for _, f := range fields {
			if f.GetJsonName() == defaultJSONName(f.GetName()) {
				f.JsonName = nil
			}
		}
	}
	var fixMessages func(msgs []*descriptorpb.DescriptorProto)
	fixMessages = func(msgs []*descriptorpb.DescriptorProto) {
		for _, m := range msgs {
			fixFields(m.Field)
			fixFields(m.Extension)
			fixMessages(m.NestedType)
		}
	}
	fixFields(fdp.Extension)
	fixMessages(fdp.MessageType)
	return fdp
}

// defaultJSONName is protoc's lowerCamelCase JSON name for a field name.
func defaultJSONName(name string) string {
	var b strings.Builder
	upper := false
	for _, r := range name {
		if r == '_' {
			upper = true
			continue
		}
		if upper && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}

// printer writes one .proto file.
type printer struct {
	buf bytes.Buffer
	pkg string
	// scopes are the names of the messages enclosing the one being printed.
	scopes []string
	// mapEntries are the map entry types seen so far, by fully qualified
	// name (as a field's type_name spells it).
	mapEntries map[string]*descriptorpb.DescriptorProto
}

// scope is the fully qualified name of message m, printed inside p.scopes.
func (p *printer) scope(m *descriptorpb.DescriptorProto) string {
	parts := append([]string{"", p.pkg}, p.scopes...)
	return strings.Join(append(parts, m.GetName()), ".")
}

// isPlainMapEntry reports whether a map entry type is what the compiler
// makes of map<K, V>: a key (1) and a value (2) and nothing else.
func isPlainMapEntry(m *descriptorpb.DescriptorProto) bool {
	return len(m.Field) == 2 && m.Field[0].GetName() == "key" && m.Field[0].GetNumber() == 1 &&
		m.Field[1].GetName() == "value" && m.Field[1].GetNumber() == 2 &&
		len(m.NestedType) == 0 && len(m.EnumType) == 0 && len(m.OneofDecl) == 0
}

// scalarType is a field's type as .proto source spells it.
func (p *printer) scalarType(f *descriptorpb.FieldDescriptorProto) string {
	switch f.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		return p.typeName(f.GetTypeName())
	default:
		return strings.ToLower(strings.TrimPrefix(f.GetType().String(), "TYPE_"))
	}
}

// printFile prints a file whose descriptor is compiled into module, under
// header.
func printFile(module, header string, fdp *descriptorpb.FileDescriptorProto) (string, error) {
	if fdp.GetSyntax() != "proto3" {
		return "", fmt.Errorf("syntax %q is not supported", fdp.GetSyntax())
	}
	p := &printer{pkg: fdp.GetPackage()}
	p.buf.WriteString(header)
	p.buf.WriteString("\n")
	p.buf.WriteString(provenanceNote(module))
	p.buf.WriteString("\nsyntax = \"proto3\";\n\n")
	fmt.Fprintf(&p.buf, "package %s;\n\n", fdp.GetPackage())
	if len(fdp.Dependency) > 0 {
		deps := append([]string(nil), fdp.Dependency...)
		sort.Strings(deps)
		for _, d := range deps {
			fmt.Fprintf(&p.buf, "import %q;\n", d)
		}
		p.buf.WriteString("\n")
	}
	if err := p.options(fdp.GetOptions(), ""); err != nil {
		return "", err
	}
	if len(fdp.Extension) > 0 {
		if err := p.extensions(fdp.Extension, ""); err != nil {
			return "", err
		}
	}
	for _, e := range fdp.EnumType {
		p.buf.WriteString("\n")
		p.enum(e, "")
	}
	for _, m := range fdp.MessageType {
		p.buf.WriteString("\n")
		if err := p.message(m, ""); err != nil {
			return "", err
		}
	}
	return p.buf.String(), nil
}

// options prints "option name = value;" for every set field of an options
// message, sorted by name as buf format does.
func (p *printer) options(opts proto.Message, indent string) error {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	if len(opts.ProtoReflect().GetUnknown()) > 0 {
		return errors.New("options carry unknown fields")
	}
	type opt struct{ name, value string }
	var list []opt
	var err error
	opts.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() || fd.IsList() || fd.Kind() == protoreflect.MessageKind {
			err = fmt.Errorf("option %s is not supported", fd.FullName())
			return false
		}
		list = append(list, opt{string(fd.Name()), scalar(fd, v)})
		return true
	})
	if err != nil {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, o := range list {
		fmt.Fprintf(&p.buf, "%soption %s = %s;\n", indent, o.name, o.value)
	}
	return nil
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	default:
		return v.String()
	}
}

func (p *printer) extensions(exts []*descriptorpb.FieldDescriptorProto, indent string) error {
	byExtendee := map[string][]*descriptorpb.FieldDescriptorProto{}
	var order []string
	for _, x := range exts {
		if _, ok := byExtendee[x.GetExtendee()]; !ok {
			order = append(order, x.GetExtendee())
		}
		byExtendee[x.GetExtendee()] = append(byExtendee[x.GetExtendee()], x)
	}
	for _, extendee := range order {
		fmt.Fprintf(&p.buf, "\n%sextend %s {\n", indent, p.typeName(extendee))
		for _, x := range byExtendee[extendee] {
			if err := p.field(x, indent+"  "); err != nil {
				return err
			}
		}
		fmt.Fprintf(&p.buf, "%s}\n", indent)
	}
	return nil
}

func (p *printer) enum(e *descriptorpb.EnumDescriptorProto, indent string) {
	fmt.Fprintf(&p.buf, "%senum %s {\n", indent, e.GetName())
	for _, v := range e.Value {
		fmt.Fprintf(&p.buf, "%s  %s = %d;\n", indent, v.GetName(), v.GetNumber())
	}
	fmt.Fprintf(&p.buf, "%s}\n", indent)
}

func (p *printer) message(m *descriptorpb.DescriptorProto, indent string) error {
	if m.GetOptions() != nil || len(m.ExtensionRange) > 0 || len(m.ReservedRange) > 0 || len(m.Extension) > 0 {
		return fmt.Errorf("message %s uses a feature this printer does not support", m.GetName())
	}
	fmt.Fprintf(&p.buf, "%smessage %s {\n", indent, m.GetName())
	inner := indent + "  "
	for _, e := range m.EnumType {
		p.enum(e, inner)
	}
	// A map field's entry type is a nested message the compiler makes
	// from the map<K, V> spelling: it is printed as that spelling on the
	// field (mapEntries), not as a message.
	for _, n := range m.NestedType {
		if n.GetOptions().GetMapEntry() {
			if !isPlainMapEntry(n) {
				return fmt.Errorf("message %s: map entry %s is not a plain key and value", m.GetName(), n.GetName())
			}
			if p.mapEntries == nil {
				p.mapEntries = map[string]*descriptorpb.DescriptorProto{}
			}
			p.mapEntries[p.scope(m)+"."+n.GetName()] = n
			continue
		}
		p.scopes = append(p.scopes, m.GetName())
		err := p.message(n, inner)
		p.scopes = p.scopes[:len(p.scopes)-1]
		if err != nil {
			return err
		}
	}
	printedOneof := map[int32]bool{}
	for i, f := range m.Field {
		if f.OneofIndex != nil && !f.GetProto3Optional() {
			idx := f.GetOneofIndex()
			if printedOneof[idx] {
				continue
			}
			printedOneof[idx] = true
			if i > 0 {
				p.buf.WriteString("\n")
			}
			fmt.Fprintf(&p.buf, "%soneof %s {\n", inner, m.OneofDecl[idx].GetName())
			for _, g := range m.Field {
				if g.OneofIndex != nil && g.GetOneofIndex() == idx {
					if err := p.field(g, inner+"  "); err != nil {
						return err
					}
				}
			}
			fmt.Fprintf(&p.buf, "%s}\n", inner)
			if i < len(m.Field)-1 {
				p.buf.WriteString("\n")
			}
			continue
		}
		if err := p.field(f, inner); err != nil {
			return err
		}
	}
	fmt.Fprintf(&p.buf, "%s}\n", indent)
	return nil
}

func (p *printer) field(f *descriptorpb.FieldDescriptorProto, indent string) error {
	label := ""
	switch {
	case f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED:
		label = "repeated "
	case f.GetProto3Optional():
		label = "optional "
	}
	typ := ""
	switch entry := p.mapEntries[f.GetTypeName()]; {
	case entry != nil && f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE:
		label = ""
		typ = "map<" + p.scalarType(entry.Field[0]) + ", " + p.scalarType(entry.Field[1]) + ">"
	case f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		typ = p.typeName(f.GetTypeName())
	case f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		return fmt.Errorf("field %s: groups are not supported", f.GetName())
	default:
		typ = p.scalarType(f)
	}
	var opts []string
	if f.GetJsonName() != "" && f.GetJsonName() != defaultJSONName(f.GetName()) {
		opts = append(opts, "json_name = "+strconv.Quote(f.GetJsonName()))
	}
	if o := f.GetOptions(); o != nil {
		if len(o.ProtoReflect().GetUnknown()) > 0 {
			return fmt.Errorf("field %s: options carry unknown fields", f.GetName())
		}
		var err error
		o.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.IsExtension() || fd.IsList() || fd.Kind() == protoreflect.MessageKind {
				err = fmt.Errorf("field %s: option %s is not supported", f.GetName(), fd.FullName())
				return false
			}
			opts = append(opts, string(fd.Name())+" = "+scalar(fd, v))
			return true
		})
		if err != nil {
			return err
		}
	}
	suffix := ""
	if len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	fmt.Fprintf(&p.buf, "%s%s%s %s = %d%s;\n", indent, label, typ, f.GetName(), f.GetNumber(), suffix)
	return nil
}

// typeName turns a fully qualified reference into the shortest unambiguous
// spelling used by googleapis: relative inside the file's own package.
func (p *printer) typeName(fq string) string {
	name := strings.TrimPrefix(fq, ".")
	if rest, ok := strings.CutPrefix(name, p.pkg+"."); ok {
		return rest
	}
	return name
}
