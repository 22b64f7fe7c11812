package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// GatewayConn returns the connection HTTPHandler's gateway should call the
// gRPC server through. Unary RPCs are served in this process: the request
// message is handed to the same method handler the gRPC server runs, behind
// the same interceptor (caller auth, the request log line, metrics, error
// mapping), with the caller's headers as incoming metadata and the same
// message size bounds, so a REST call costs no loopback HTTP/2 connection
// and no protobuf encoding in either direction. Streaming RPCs (event
// streams) still go to the gRPC server at addr, over loopback.
//
// Only methods of services GRPCServer registered are served in process;
// any other goes to addr as well.
func (s *Server) GatewayConn(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(s.inProcess),
		grpc.WithStreamInterceptor(s.injectStream), // the trace context of REST event streams
		s.LoopbackDialOption(),                     // streams go over the wire
	}, opts...)
	return grpc.NewClient(addr, opts...)
}

// inProcessMethod is one unary method as the gRPC server serves it.
type inProcessMethod struct {
	impl    any
	handler grpc.MethodHandler
}

// addInProcess records the unary methods of a service registered on the
// gRPC server, with the handler the server runs for each: the generic
// path's where register puts it there, the implementation's otherwise.
func (s *Server) addInProcess(table map[string]inProcessMethod, desc *grpc.ServiceDesc, impl any) {
	for _, md := range desc.Methods {
		full := "/" + desc.ServiceName + "/" + md.MethodName
		h := md.Handler
		if f, ok := forwards[full]; ok {
			h = f.handler(s)
		}
		table[full] = inProcessMethod{impl: impl, handler: h}
	}
}

// inProcess is GatewayConn's unary client interceptor: it serves the call
// in process, as the gRPC server would serve it over the wire.
func (s *Server) inProcess(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	table := s.inProcessMethods.Load()
	var m inProcessMethod
	ok := false
	if table != nil {
		m, ok = (*table)[method]
	}
	in, inOK := req.(proto.Message)
	out, outOK := reply.(proto.Message)
	if !ok || !inOK || !outOK {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	// What the caller's side sends as metadata is what the server's side
	// receives; nothing of the caller's outgoing metadata leaks further.
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md), nil)
	st := &inProcessStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, st)

	// The interceptor keeps the method's message bound both ways, with the
	// code the gRPC server's transport would answer.
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}
	resp, err := m.handler(m.impl, ctx, dec, s.unaryInterceptor)
	st.deliver(opts)
	if err != nil {
		return err
	}
	r, ok := resp.(proto.Message)
	if !ok {
		return statusError(codes.Internal, "internal error", ReasonInternal)
	}
	move(out, r)
	return nil
}

// move gives dst, the caller's empty reply, the fields of src, the
// handler's answer, which nothing else holds: the fields are handed over,
// not copied (Merge copied the whole answer). A dst of another type, or
// one that holds something, is merged into.
func move(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	if d.Type() != s.Type() || proto.Size(dst) != 0 {
		proto.Merge(dst, src)
		return
	}
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
	if u := s.GetUnknown(); len(u) > 0 {
		d.SetUnknown(u)
	}
}

// inProcessStream is the server transport stream of an in-process call: it
// keeps the header and trailer metadata a handler sets (grpc.SetHeader,
// grpc.SetTrailer) for the caller's grpc.Header and grpc.Trailer options,
// which the gateway turns into HTTP headers.
type inProcessStream struct {
	method string

	mu              sync.Mutex
	header, trailer metadata.MD
}

func (s *inProcessStream) Method() string { return s.method }

func (s *inProcessStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *inProcessStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *inProcessStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// deliver hands the metadata to the call options that asked for it.
func (s *inProcessStream) deliver(opts []grpc.CallOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = s.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = s.trailer
		}
	}
}

var _ grpc.ServerTransportStream = (*inProcessStream)(nil)
