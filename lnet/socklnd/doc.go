// Package socklnd is the TCP LND. (Design notes follow with the NI.)
package socklnd
