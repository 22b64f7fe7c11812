package server

import (
	"strconv"
	"strings"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

// contactFromHL converts HighLevel's contact (GET /contacts/{id}; create and
// search return the same shape under other schema names, transcoded first).
func contactFromHL(c *highlevel.Contact) *hlgatev1.Contact {
	if c == nil {
		return nil
	}
	out := &hlgatev1.Contact{
		Id:                    str(c.ID),
		LocationId:            str(c.LocationID),
		FirstName:             str(c.FirstName),
		LastName:              str(c.LastName),
		Name:                  str(c.Name),
		Email:                 str(c.Email),
		Phone:                 str(c.Phone),
		CompanyName:           str(c.CompanyName),
		Address1:              str(c.Address1),
		City:                  str(c.City),
		State:                 str(c.State),
		PostalCode:            str(c.PostalCode),
		Country:               str(c.Country),
		Website:               str(c.Website),
		Timezone:              str(c.Timezone),
		Dnd:                   boolean(c.Dnd),
		DndSettings:           dndFromHL(c.DndSettings),
		Tags:                  strs(c.Tags),
		Source:                str(c.Source),
		DateOfBirth:           str(c.DateOfBirth),
		AssignedTo:            str(c.AssignedTo),
		Type:                  str(c.Type),
		BusinessId:            str(c.BusinessID),
		DateAdded:             upstreamTimePtr(c.DateAdded),
		DateUpdated:           upstreamTimePtr(c.DateUpdated),
		LastActivity:          upstreamTimePtr(c.LastActivity),
		AttributionSource:     attributionFromHL(c.AttributionSource),
		LastAttributionSource: attributionFromHL(c.LastAttributionSource),
	}
	if c.CustomFields != nil {
		out.CustomFields = customFieldsFrom(*c.CustomFields,
			func(f *highlevel.ContactCustomField) string { return str(f.ID) },
			func(f *highlevel.ContactCustomField) any { return f.Value })
	}
	return out
}

func dndFromHL(d *highlevel.DndSettings) *hlgatev1.DndSettings {
	if d == nil {
		return nil
	}
	return &hlgatev1.DndSettings{
		Call:     dndChannelFromHL(d.Call),
		Email:    dndChannelFromHL(d.Email),
		Sms:      dndChannelFromHL(d.SMS),
		WhatsApp: dndChannelFromHL(d.WhatsApp),
		Gmb:      dndChannelFromHL(d.GMB),
		Fb:       dndChannelFromHL(d.FB),
	}
}

func dndChannelFromHL(s *highlevel.DndSetting) *hlgatev1.DndChannelSetting {
	if s == nil {
		return nil
	}
	return &hlgatev1.DndChannelSetting{Status: dndStatusFromHL(string(s.Status)), Message: str(s.Message), Code: str(s.Code)}
}

func dndStatusFromHL(s string) hlgatev1.DndStatus {
	switch s {
	case "active":
		return hlgatev1.DndStatus_DND_STATUS_ACTIVE
	case "inactive":
		return hlgatev1.DndStatus_DND_STATUS_INACTIVE
	case "permanent":
		return hlgatev1.DndStatus_DND_STATUS_PERMANENT
	}
	return hlgatev1.DndStatus_DND_STATUS_UNSPECIFIED
}

func dndStatusToHL(s hlgatev1.DndStatus) string {
	switch s {
	case hlgatev1.DndStatus_DND_STATUS_ACTIVE:
		return "active"
	case hlgatev1.DndStatus_DND_STATUS_PERMANENT:
		return "permanent"
	}
	return "inactive"
}

func dndToHL(d *hlgatev1.DndSettings) *highlevel.DndSettings {
	if d == nil {
		return nil
	}
	ch := func(s *hlgatev1.DndChannelSetting) *highlevel.DndSetting {
		if s == nil {
			return nil
		}
		return &highlevel.DndSetting{Status: highlevel.DndSettingStatus(dndStatusToHL(s.GetStatus())), Message: optStr(s.GetMessage()), Code: optStr(s.GetCode())}
	}
	return &highlevel.DndSettings{Call: ch(d.Call), Email: ch(d.Email), SMS: ch(d.Sms), WhatsApp: ch(d.WhatsApp), GMB: ch(d.Gmb), FB: ch(d.Fb)}
}

func inboundDndToHL(d *hlgatev1.InboundDndSettings) *highlevel.InboundDndSettings {
	if d == nil || d.All == nil {
		return nil
	}
	st := highlevel.InboundDndSettingStatusInactive
	if d.All.GetStatus() == hlgatev1.DndStatus_DND_STATUS_ACTIVE || d.All.GetStatus() == hlgatev1.DndStatus_DND_STATUS_PERMANENT {
		st = highlevel.InboundDndSettingStatusActive
	}
	return &highlevel.InboundDndSettings{All: &highlevel.InboundDndSetting{Status: st, Message: optStr(d.All.GetMessage())}}
}

func attributionFromHL(a *highlevel.AttributionSource) *hlgatev1.AttributionSource {
	if a == nil {
		return nil
	}
	return &hlgatev1.AttributionSource{
		Url: a.URL, Campaign: str(a.Campaign), CampaignId: str(a.CampaignID),
		UtmSource: str(a.UtmSource), UtmMedium: str(a.UtmMedium), UtmContent: str(a.UtmContent),
		Referrer: str(a.Referrer), Medium: str(a.Medium), MediumId: str(a.MediumID),
		Gclid: str(a.Gclid), Fbclid: str(a.Fbclid), Msclikid: str(a.Msclikid), Dclid: str(a.Dclid),
		UserAgent: str(a.UserAgent), Ip: str(a.IP),
	}
}

// contactSetters write one hlgate.v1 Contact field into HighLevel's upsert
// body, the widest of its contact write bodies; create and update bodies are
// transcoded from it. DND settings are written by contactWriteBody, which
// also takes paths inside them.
var contactSetters = map[string]func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, v *violations){
	"first_name": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		b.FirstName = &c.FirstName
	},
	"last_name": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.LastName = &c.LastName },
	"name":      func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Name = &c.Name },
	"email":     func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Email = &c.Email },
	"phone":     func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Phone = &c.Phone },
	"company_name": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		b.CompanyName = &c.CompanyName
	},
	"address1": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Address1 = &c.Address1 },
	"city":     func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.City = &c.City },
	"state":    func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.State = &c.State },
	"postal_code": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		b.PostalCode = &c.PostalCode
	},
	"country":  func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Country = &c.Country },
	"website":  func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Website = &c.Website },
	"timezone": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Timezone = &c.Timezone },
	"dnd":      func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Dnd = &c.Dnd },
	"tags": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		tags := append([]string{}, c.Tags...)
		b.Tags = &tags
	},
	"custom_fields": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, v *violations) {
		in := customFieldsTo("contact.custom_fields", c.CustomFields, v)
		var out []highlevel.UpsertContactRequest_CustomFields
		if err := transcode(in, &out); err != nil {
			v.add("contact.custom_fields", "cannot be encoded: %v", err)
			return
		}
		b.CustomFields = &out
	},
	"source": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Source = &c.Source },
	"date_of_birth": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		b.DateOfBirth = &c.DateOfBirth
	},
	"assigned_to": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) {
		b.AssignedTo = &c.AssignedTo
	},
	"gender": func(c *hlgatev1.Contact, b *highlevel.UpsertContactRequest, _ *violations) { b.Gender = &c.Gender },
}

// contactOutputOnly are the Contact fields the proto marks OUTPUT_ONLY
// (HighLevel sets them); a write ignores them.
var contactOutputOnly = outputOnlyFields((&hlgatev1.Contact{}).ProtoReflect().Descriptor())

// contactNotUpdatable are fields HighLevel's update body does not take
// (api/openapi.yaml UpdateContactRequest has no companyName or gender).
var contactNotUpdatable = map[string]bool{"company_name": true, "gender": true}

// contactWriteBody validates c's fields named by paths and builds the upsert
// body. Paths of output-only fields are ignored (AIP-203: a caller may send
// back a contact it read); a path inside dnd_settings or
// inbound_dnd_settings (dnd_settings.email.status, as the REST gateway
// derives from a PATCH body) sends only the channels named.
func contactWriteBody(c *hlgatev1.Contact, paths []string, v *violations) highlevel.UpsertContactRequest {
	var b highlevel.UpsertContactRequest
	if c == nil {
		v.add("contact", "is required")
		return b
	}
	dndChannels := map[string]bool{} // empty with dnd set: every channel
	dnd := false
	for _, p := range paths {
		p = strings.TrimSpace(p)
		top, sub, nested := strings.Cut(p, ".")
		switch {
		case top == "dnd_settings":
			dnd = true
			if nested {
				ch, _, _ := strings.Cut(sub, ".")
				if !dndChannelNames[ch] {
					v.add("update_mask", "%q names no DND channel (call, email, sms, whats_app, gmb, fb)", p)
				}
				dndChannels[ch] = true
			} else {
				dndChannels = nil // the whole settings
			}
		case top == "inbound_dnd_settings":
			b.InboundDndSettings = inboundDndToHL(c.InboundDndSettings)
		case nested:
			v.add("update_mask", "%q: only dnd_settings and inbound_dnd_settings take nested paths", p)
		case contactSetters[p] != nil:
			contactSetters[p](c, &b, v)
		case contactOutputOnly[p]:
		default:
			v.add("update_mask", "%q is not a contact field that can be written", p)
		}
	}
	if dnd {
		b.DndSettings = dndToHL(onlyChannels(c.GetDndSettings(), dndChannels))
	}
	v.email("contact.email", c.GetEmail())
	v.phone("contact.phone", c.GetPhone())
	v.maxLen("contact.first_name", c.GetFirstName(), 255)
	v.maxLen("contact.last_name", c.GetLastName(), 255)
	for i, t := range c.GetTags() {
		if strings.TrimSpace(t) == "" {
			v.add("contact.tags", "tag %d is empty", i)
		}
	}
	v.timeZone("contact.timezone", c.GetTimezone())
	return b
}

var dndChannelNames = map[string]bool{"call": true, "email": true, "sms": true, "whats_app": true, "gmb": true, "fb": true}

// onlyChannels keeps the DND channels named; nil keeps them all.
func onlyChannels(d *hlgatev1.DndSettings, names map[string]bool) *hlgatev1.DndSettings {
	if d == nil || names == nil {
		return d
	}
	out := &hlgatev1.DndSettings{}
	if names["call"] {
		out.Call = d.GetCall()
	}
	if names["email"] {
		out.Email = d.GetEmail()
	}
	if names["sms"] {
		out.Sms = d.GetSms()
	}
	if names["whats_app"] {
		out.WhatsApp = d.GetWhatsApp()
	}
	if names["gmb"] {
		out.Gmb = d.GetGmb()
	}
	if names["fb"] {
		out.Fb = d.GetFb()
	}
	return out
}

// contactFilterToHL converts one search filter, checking it.
func contactFilterToHL(field string, f *hlgatev1.ContactFilter, v *violations, depth int) highlevel.ContactSearchFilter {
	var out highlevel.ContactSearchFilter
	if depth > 3 {
		v.add(field, "filter groups nest at most 3 deep")
		return out
	}
	if f.GetGroup() != hlgatev1.FilterGroup_FILTER_GROUP_UNSPECIFIED {
		g := highlevel.ContactSearchFilterGroupAND
		if f.GetGroup() == hlgatev1.FilterGroup_FILTER_GROUP_OR {
			g = highlevel.ContactSearchFilterGroupOR
		}
		if len(f.GetFilters()) == 0 {
			v.add(field+".filters", "a group needs at least one filter")
		}
		if f.GetField() != "" || f.GetOperator() != hlgatev1.FilterOperator_FILTER_OPERATOR_UNSPECIFIED {
			v.add(field, "a group takes filters, not field and operator")
		}
		inner := make([]highlevel.ContactSearchFilter, 0, len(f.GetFilters()))
		for i, sub := range f.GetFilters() {
			inner = append(inner, contactFilterToHL(field+".filters["+strconv.Itoa(i)+"]", sub, v, depth+1))
		}
		out.Group, out.Filters = &g, &inner
		return out
	}
	if f.GetField() == "" {
		v.add(field+".field", "is required")
	}
	op, ok := filterOperators[f.GetOperator()]
	if !ok {
		v.add(field+".operator", "is required (eq, not_eq, contains, not_contains, exists, not_exists or range)")
	}
	needsValue := op != highlevel.ContactSearchFilterOperatorExists && op != highlevel.ContactSearchFilterOperatorNotExists
	if needsValue && f.GetValue() == nil {
		v.add(field+".value", "is required for operator %s", op)
	}
	out.Field, out.Operator = optStr(f.GetField()), &op
	if f.GetValue() != nil {
		out.Value = f.GetValue().AsInterface()
	}
	return out
}

var filterOperators = map[hlgatev1.FilterOperator]highlevel.ContactSearchFilterOperator{
	hlgatev1.FilterOperator_FILTER_OPERATOR_EQ:           highlevel.ContactSearchFilterOperatorEq,
	hlgatev1.FilterOperator_FILTER_OPERATOR_NOT_EQ:       highlevel.ContactSearchFilterOperatorNotEq,
	hlgatev1.FilterOperator_FILTER_OPERATOR_CONTAINS:     highlevel.ContactSearchFilterOperatorContains,
	hlgatev1.FilterOperator_FILTER_OPERATOR_NOT_CONTAINS: highlevel.ContactSearchFilterOperatorNotContains,
	hlgatev1.FilterOperator_FILTER_OPERATOR_EXISTS:       highlevel.ContactSearchFilterOperatorExists,
	hlgatev1.FilterOperator_FILTER_OPERATOR_NOT_EXISTS:   highlevel.ContactSearchFilterOperatorNotExists,
	hlgatev1.FilterOperator_FILTER_OPERATOR_RANGE:        highlevel.ContactSearchFilterOperatorRange,
}
