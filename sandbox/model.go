package sandbox

import (
	"encoding/json"
	"sync"
	"time"
)

// The record types below are the sandbox's own, shaped member for member
// like the schemas of api/openapi.yaml (the conformance test validates every
// answer against that document, which keeps them honest).

// DndSetting is one channel's do-not-disturb state.
type DndSetting struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Code    string `json:"code,omitempty"`
}

// ContactCustomField is a custom field value as contacts report it. Value
// is the JSON of the field's data type (string, number, array or object),
// as upstream answers it, not the string contacts.json's CustomFieldSchema
// declares.
type ContactCustomField struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Contact mirrors the document's Contact (and CreatedContact) schema.
type Contact struct {
	ID                 string                `json:"id"`
	Name               string                `json:"name,omitempty"`
	LocationID         string                `json:"locationId"`
	FirstName          string                `json:"firstName,omitempty"`
	LastName           string                `json:"lastName,omitempty"`
	Email              string                `json:"email,omitempty"`
	EmailLowerCase     string                `json:"emailLowerCase,omitempty"`
	Timezone           string                `json:"timezone,omitempty"`
	CompanyName        string                `json:"companyName,omitempty"`
	Phone              string                `json:"phone,omitempty"`
	Dnd                bool                  `json:"dnd"`
	DndSettings        map[string]DndSetting `json:"dndSettings,omitempty"`
	Type               string                `json:"type,omitempty"`
	Source             string                `json:"source,omitempty"`
	AssignedTo         string                `json:"assignedTo,omitempty"`
	Address1           string                `json:"address1,omitempty"`
	City               string                `json:"city,omitempty"`
	State              string                `json:"state,omitempty"`
	Country            string                `json:"country,omitempty"`
	PostalCode         string                `json:"postalCode,omitempty"`
	Website            string                `json:"website,omitempty"`
	Tags               []string              `json:"tags"`
	DateOfBirth        string                `json:"dateOfBirth,omitempty"`
	DateAdded          string                `json:"dateAdded"`
	DateUpdated        string                `json:"dateUpdated"`
	FirstNameLowerCase string                `json:"firstNameLowerCase,omitempty"`
	LastNameLowerCase  string                `json:"lastNameLowerCase,omitempty"`
	FullNameLowerCase  string                `json:"fullNameLowerCase,omitempty"`
	CustomFields       []ContactCustomField  `json:"customFields"`
	BusinessID         string                `json:"businessId,omitempty"`
	Gender             string                `json:"-"`
	added, updated     time.Time             // parsed DateAdded/DateUpdated, for sorting and filters
}

// PipelineStage is one stage of a pipeline.
type PipelineStage struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Position       int    `json:"position"`
	ShowInFunnel   bool   `json:"showInFunnel"`
	ShowInPieChart bool   `json:"showInPieChart"`
}

// Pipeline mirrors the document's Pipeline schema.
type Pipeline struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Stages         []PipelineStage `json:"stages"`
	ShowInFunnel   bool            `json:"showInFunnel"`
	ShowInPieChart bool            `json:"showInPieChart"`
	LocationID     string          `json:"locationId"`
}

// OpportunityContact is the contact summary embedded in an opportunity.
type OpportunityContact struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	CompanyName string   `json:"companyName,omitempty"`
	Email       string   `json:"email,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	Tags        []string `json:"tags"`
}

// OpportunityCustomField is a custom field value of an opportunity, its
// JSON typed by the field's data type like ContactCustomField's.
type OpportunityCustomField struct {
	ID         string          `json:"id"`
	FieldValue json.RawMessage `json:"fieldValue"`
}

// Opportunity mirrors the document's Opportunity schema.
type Opportunity struct {
	ID                 string                   `json:"id"`
	Name               string                   `json:"name"`
	MonetaryValue      float64                  `json:"monetaryValue"`
	PipelineID         string                   `json:"pipelineId"`
	PipelineStageID    string                   `json:"pipelineStageId"`
	AssignedTo         string                   `json:"assignedTo,omitempty"`
	Status             string                   `json:"status"`
	Source             string                   `json:"source,omitempty"`
	LastStatusChangeAt string                   `json:"lastStatusChangeAt"`
	LastStageChangeAt  string                   `json:"lastStageChangeAt"`
	CreatedAt          string                   `json:"createdAt"`
	UpdatedAt          string                   `json:"updatedAt"`
	ContactID          string                   `json:"contactId"`
	LocationID         string                   `json:"locationId"`
	Contact            *OpportunityContact      `json:"contact,omitempty"`
	LostReasonID       string                   `json:"lostReasonId,omitempty"`
	CustomFields       []OpportunityCustomField `json:"customFields"`
	Followers          []string                 `json:"followers"`
	Notes              []any                    `json:"notes,omitempty"`
	Tasks              []any                    `json:"tasks,omitempty"`
	CalendarEvents     []any                    `json:"calendarEvents,omitempty"`
	created            time.Time
}

// Hour is an opening range of a day.
type Hour struct {
	OpenHour    int `json:"openHour"`
	OpenMinute  int `json:"openMinute"`
	CloseHour   int `json:"closeHour"`
	CloseMinute int `json:"closeMinute"`
}

// OpenHour lists the ranges of some days of the week (0 = Sunday).
type OpenHour struct {
	DaysOfTheWeek []int  `json:"daysOfTheWeek"`
	Hours         []Hour `json:"hours"`
}

// TeamMember is a user a calendar books.
type TeamMember struct {
	UserID    string  `json:"userId"`
	Priority  float64 `json:"priority"`
	IsPrimary bool    `json:"isPrimary"`
}

// Calendar mirrors the document's Calendar schema (the members the sandbox
// uses).
type Calendar struct {
	ID                string       `json:"id"`
	LocationID        string       `json:"locationId"`
	GroupID           string       `json:"groupId,omitempty"`
	Name              string       `json:"name"`
	Description       string       `json:"description,omitempty"`
	Slug              string       `json:"slug,omitempty"`
	CalendarType      string       `json:"calendarType"`
	IsActive          bool         `json:"isActive"`
	TeamMembers       []TeamMember `json:"teamMembers"`
	SlotDuration      int          `json:"slotDuration"`
	SlotDurationUnit  string       `json:"slotDurationUnit"`
	SlotInterval      int          `json:"slotInterval"`
	SlotIntervalUnit  string       `json:"slotIntervalUnit"`
	AppoinmentPerSlot int          `json:"appoinmentPerSlot"`
	OpenHours         []OpenHour   `json:"openHours"`
	AutoConfirm       bool         `json:"autoConfirm"`
}

// Event is a booked appointment (CalendarEvent / Appointment schemas).
type Event struct {
	ID                string   `json:"id"`
	Title             string   `json:"title"`
	CalendarID        string   `json:"calendarId"`
	LocationID        string   `json:"locationId"`
	ContactID         string   `json:"contactId"`
	GroupID           string   `json:"groupId"`
	AppointmentStatus string   `json:"appointmentStatus"`
	AssignedUserID    string   `json:"assignedUserId"`
	Users             []string `json:"users"`
	Address           string   `json:"address,omitempty"`
	Description       string   `json:"description,omitempty"`
	MeetingLocation   string   `json:"-"`
	IsRecurring       bool     `json:"isRecurring"`
	Rrule             string   `json:"rrule,omitempty"`
	StartTime         string   `json:"startTime"`
	EndTime           string   `json:"endTime"`
	DateAdded         string   `json:"dateAdded"`
	DateUpdated       string   `json:"dateUpdated"`
	start, end        time.Time
}

// Order mirrors the document's Order / OrderSummary schemas.
type Order struct {
	ID                string      `json:"_id"`
	AltID             string      `json:"altId"`
	AltType           string      `json:"altType"`
	ContactID         string      `json:"contactId"`
	ContactName       string      `json:"contactName"`
	ContactEmail      string      `json:"contactEmail"`
	Currency          string      `json:"currency"`
	Amount            float64     `json:"amount"`
	Subtotal          float64     `json:"subtotal"`
	Discount          float64     `json:"discount"`
	Status            string      `json:"status"`
	PaymentStatus     string      `json:"-"`
	LiveMode          bool        `json:"liveMode"`
	TotalProducts     int         `json:"totalProducts"`
	SourceType        string      `json:"sourceType"`
	SourceName        string      `json:"sourceName"`
	SourceID          string      `json:"sourceId"`
	FulfillmentStatus string      `json:"fulfillmentStatus"`
	CreatedAt         string      `json:"createdAt"`
	UpdatedAt         string      `json:"updatedAt"`
	Items             []OrderItem `json:"-"`
	created           time.Time
}

// OrderItem is one line of an order: a product's price and how many of it
// (GetOrderResponseSchema's items example: _id, name, price, product,
// qty). Fulfillments name it by its price's id.
type OrderItem struct {
	ID          string  `json:"_id"`
	Name        string  `json:"name"`
	Qty         int     `json:"qty"`
	PriceID     string  `json:"-"`
	ProductID   string  `json:"-"`
	ProductName string  `json:"-"`
	Amount      float64 `json:"-"`
}

// Transaction mirrors the document's Transaction / TransactionSummary.
type Transaction struct {
	ID                  string  `json:"_id"`
	AltID               string  `json:"altId"`
	AltType             string  `json:"altType"`
	ContactID           string  `json:"contactId"`
	ContactName         string  `json:"contactName"`
	ContactEmail        string  `json:"contactEmail"`
	Currency            string  `json:"currency"`
	Amount              float64 `json:"amount"`
	Status              string  `json:"status"`
	LiveMode            bool    `json:"liveMode"`
	EntityType          string  `json:"entityType"`
	EntityID            string  `json:"entityId"`
	EntitySourceType    string  `json:"entitySourceType"`
	EntitySourceSubType string  `json:"entitySourceSubType,omitempty"`
	EntitySourceName    string  `json:"entitySourceName"`
	EntitySourceID      string  `json:"entitySourceId"`
	SubscriptionID      string  `json:"subscriptionId,omitempty"`
	ChargeID            string  `json:"chargeId"`
	PaymentProviderType string  `json:"paymentProviderType"`
	AmountRefunded      float64 `json:"amountRefunded"`
	CreatedAt           string  `json:"createdAt"`
	UpdatedAt           string  `json:"updatedAt"`
	FulfilledAt         string  `json:"fulfilledAt"`
	created             time.Time
}

// locStore is one location's data, behind its own lock so locations never
// contend with each other.
type locStore struct {
	id, companyID, name, address string
	tz                           *time.Location

	// fieldDefs are the custom field definitions, behind fieldMu (their
	// own lock: a contact's write reads them while holding mu).
	fieldMu   sync.RWMutex
	fieldDefs []CustomFieldDef

	mu            sync.RWMutex
	idSeq         uint64 // drives ids of records created at run time
	contacts      map[string]*Contact
	opportunities map[string]*Opportunity
	events        map[string]*Event
	// docs are the engine's documents by collection (see engine.go),
	// pipelines and calendars among them.
	docs         map[string]*collection
	orders       map[string]*Order
	transactions map[string]*Transaction
}
