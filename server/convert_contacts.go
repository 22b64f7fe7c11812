package server

import (
	"strconv"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
)

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
