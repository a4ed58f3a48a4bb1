package storetest

// notifyPrefTests are the conformance tests of this part of the store.
func notifyPrefTests() []test { return nil }
