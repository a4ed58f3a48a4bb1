package storetest

// connectorTests are the conformance tests of this part of the store.
func connectorTests() []test { return nil }
