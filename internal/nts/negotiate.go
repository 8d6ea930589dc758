// SPDX-License-Identifier: BSD-2-Clause

package nts

import (
	"errors"
	"fmt"
	"slices"
)

// Errors of the negotiation.
var (
	ErrServerError     = errors.New("NTS-KE server sent an error record")
	ErrServerWarning   = errors.New("NTS-KE server sent a warning record")
	ErrNoProtocol      = errors.New("NTS-KE server supports no protocol we offered")
	ErrNoAEAD          = errors.New("NTS-KE server supports no AEAD algorithm we offered")
	ErrNoCookies       = errors.New("NTS-KE response carries no cookie")
	ErrBadNegotiation  = errors.New("NTS-KE response chose something we did not offer")
	ErrRequestCritical = errors.New("NTS-KE request has an unrecognised critical record")
)

// Negotiated is what a client takes from a valid NTS-KE response.
type Negotiated struct {
	AEAD    uint16
	Cookies [][]byte
	// Server and Port are where to send NTP (section 4.1.7, 4.1.8); empty and 0 mean the
	// NTS-KE server's address and port 123.
	Server string
	Port   uint16
}

// CheckResponse applies section 4.1's rules for a client to a parsed response, given the
// AEAD algorithms it offered.
func CheckResponse(m *Message, offered []uint16) (Negotiated, error) {
	var n Negotiated
	if len(m.Errors) > 0 {
		return n, fmt.Errorf("%w %d (%s)", ErrServerError, m.Errors[0], errorName(m.Errors[0]))
	}
	if len(m.Warnings) > 0 {
		return n, fmt.Errorf("%w %d", ErrServerWarning, m.Warnings[0])
	}
	if len(m.UnknownCritical) > 0 {
		return n, fmt.Errorf("%w: type %d", ErrUnknownCritical, m.UnknownCritical[0])
	}
	if !m.HasNextProtocol {
		return n, fmt.Errorf("%w: Next Protocol Negotiation", ErrMissingRecord)
	}
	if len(m.NextProtocols) == 0 {
		return n, ErrNoProtocol
	}
	if len(m.NextProtocols) != 1 || m.NextProtocols[0] != ProtocolNTPv4 {
		return n, fmt.Errorf("%w: next protocols %v", ErrBadNegotiation, m.NextProtocols)
	}
	if !m.HasAEAD {
		return n, fmt.Errorf("%w: AEAD Algorithm Negotiation", ErrMissingRecord)
	}
	if len(m.AEADs) == 0 {
		return n, ErrNoAEAD
	}
	if len(m.AEADs) != 1 || !slices.Contains(offered, m.AEADs[0]) || KeyLen(m.AEADs[0]) == 0 {
		return n, fmt.Errorf("%w: AEAD %v", ErrBadNegotiation, m.AEADs)
	}
	if len(m.Cookies) == 0 {
		return n, ErrNoCookies
	}
	n.AEAD = m.AEADs[0]
	n.Cookies = m.Cookies
	if len(n.Cookies) > MaxCookies {
		n.Cookies = n.Cookies[:MaxCookies]
	}
	n.Server, n.Port = m.Server, m.Port
	return n, nil
}

func errorName(c uint16) string {
	switch c {
	case ErrCodeUnrecognizedCritical:
		return "unrecognized critical record"
	case ErrCodeBadRequest:
		return "bad request"
	case ErrCodeInternalServer:
		return "internal server error"
	}
	return "unknown error"
}

// ServerChoice is a server's reading of a request (section 4.1): the response to send
// without its cookies, and the AEAD for which keys must be exported and cookies made (0 when
// the response carries none: an error, or nothing in common).
type ServerChoice struct {
	Response Message
	AEAD     uint16
}

// Choose answers a parsed request. A request with an unrecognised critical record gets error
// 0, one without Next Protocol or AEAD records error 1 (bad request); otherwise the first of
// the client's protocols and AEADs that the server supports is chosen, in the client's order
// of preference, or the record is sent back empty when none is (section 4.1.2, 4.1.5).
func Choose(req *Message, supported []uint16) ServerChoice {
	var c ServerChoice
	switch {
	case len(req.UnknownCritical) > 0:
		c.Response.Errors = []uint16{ErrCodeUnrecognizedCritical}
		return c
	case !req.HasNextProtocol || !req.HasAEAD || len(req.Errors) > 0 || len(req.Cookies) > 0:
		c.Response.Errors = []uint16{ErrCodeBadRequest}
		return c
	}
	c.Response.HasNextProtocol = true
	c.Response.HasAEAD = true
	if !slices.Contains(req.NextProtocols, ProtocolNTPv4) {
		c.Response.NextProtocols = []uint16{}
		return c
	}
	c.Response.NextProtocols = []uint16{ProtocolNTPv4}
	for _, a := range req.AEADs {
		if slices.Contains(supported, a) && KeyLen(a) > 0 {
			c.AEAD = a
			c.Response.AEADs = []uint16{a}
			return c
		}
	}
	c.Response.AEADs = []uint16{}
	return c
}

// ParseRequest is ParseMessage with a server's view of failure: the error code to answer a
// message that cannot be read (bad request), or nil.
func ParseRequest(b []byte) (*Message, error) {
	m, err := ParseMessage(b)
	if err != nil {
		return nil, err
	}
	if len(m.UnknownCritical) > 0 {
		return m, fmt.Errorf("%w: type %d", ErrRequestCritical, m.UnknownCritical[0])
	}
	return m, nil
}
