package server

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// A location's custom field definitions are created, read, changed and
// deleted over gRPC and REST, and a field created so takes a contact's
// value by its key at once: the flow of setting a custom field by key.
func TestCustomFieldDefinitionsAndSettingAFieldByKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	c := hlgatev1.NewLocationsServiceClient(h.conn)
	base := "/v1/locations/" + loc + "/customFields"

	made, err := c.CreateCustomField(ctx, &hlgatev1.CreateCustomFieldRequest{LocationId: loc, Name: proto.String("Shoe Size"), DataType: proto.String("NUMERICAL")})
	if err != nil {
		t.Fatalf("CreateCustomField: %v", err)
	}
	field := made.GetCustomField()
	if field.GetId() == "" || field.GetFieldKey() != "contact.shoe_size" || field.GetDataType() != "NUMERICAL" {
		t.Fatalf("created field = %v", field)
	}
	restJSON(t, h, http.MethodPost, base, `{"name":"Pet Name","dataType":"TEXT"}`, http.StatusOK)
	all, err := c.GetCustomFields(ctx, &hlgatev1.GetCustomFieldsRequest{LocationId: loc, Model: proto.String("contact")})
	if err != nil {
		t.Fatalf("GetCustomFields: %v", err)
	}
	keys := map[string]bool{}
	for _, f := range all.GetCustomFields() {
		keys[f.GetFieldKey()] = true
	}
	if !keys["contact.shoe_size"] || !keys["contact.pet_name"] || len(keys) != 8 {
		t.Fatalf("contact fields after two creates: %v, want the 6 seeded and the 2 new", keys)
	}

	// The new field takes a value by its key, and the contact reads it
	// back under the field's id, as a number.
	contact, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{FirstName: "Grace", Email: "grace@example.com"}})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	if _, err := h.contacts.UpdateContact(ctx, &hlgatev1.UpdateContactRequest{LocationId: loc, ContactId: contact.GetContact().GetId(),
		Contact:    &hlgatev1.Contact{CustomFields: []*hlgatev1.CustomField{{Key: "contact.shoe_size", Value: structpb.NewStringValue("38")}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"custom_fields"}}}); err != nil {
		t.Fatalf("UpdateContact by key: %v", err)
	}
	read, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: contact.GetContact().GetId()})
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	var got *hlgatev1.CustomField
	for _, f := range read.GetContact().GetCustomFields() {
		if f.GetId() == field.GetId() {
			got = f
		}
	}
	if got == nil || got.GetValue().GetNumberValue() != 38 {
		t.Fatalf("the contact's fields = %v, want %s = 38", read.GetContact().GetCustomFields(), field.GetId())
	}

	one := restJSON(t, h, http.MethodGet, base+"/"+field.GetId(), "", http.StatusOK)
	if f, _ := one["customField"].(map[string]any); f["fieldKey"] != "contact.shoe_size" {
		t.Fatalf("GET the field = %v", one)
	}
	if _, err := c.UpdateCustomField(ctx, &hlgatev1.UpdateCustomFieldRequest{LocationId: loc, Id: field.GetId(), Name: proto.String("Shoe Size EU")}); err != nil {
		t.Fatalf("UpdateCustomField: %v", err)
	}
	restJSON(t, h, http.MethodPut, base+"/"+field.GetId(), `{"name":"Shoe size (EU)"}`, http.StatusOK)
	renamed, err := c.GetCustomField(ctx, &hlgatev1.GetCustomFieldRequest{LocationId: loc, Id: field.GetId()})
	if err != nil || renamed.GetCustomField().GetName() != "Shoe size (EU)" || renamed.GetCustomField().GetFieldKey() != "contact.shoe_size" {
		t.Fatalf("after the renames = %v, %v (the key stays)", renamed, err)
	}
	if _, err := c.DeleteCustomField(ctx, &hlgatev1.DeleteCustomFieldRequest{LocationId: loc, Id: field.GetId()}); err != nil {
		t.Fatalf("DeleteCustomField: %v", err)
	}
	if code, _, body := h.rest(http.MethodDelete, base+"/"+field.GetId(), "", nil); code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted field = %d %s", code, body)
	}
	if _, err := c.GetCustomField(ctx, &hlgatev1.GetCustomFieldRequest{LocationId: loc, Id: field.GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetCustomField after the delete: %v, want NOT_FOUND", err)
	}
}
