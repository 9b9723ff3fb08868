package providers

// groupB: HubSpot, Xero, QuickBooks, Zoom, Dropbox, Box, Auth0, Keycloak,
// Linear, Asana, Pipedrive.
var groupB = []*Provider{
	HubSpot,
	Xero,
	QuickBooks,
	Zoom,
	Dropbox,
	Box,
	Auth0,
	Keycloak,
	Linear,
	Asana,
	Pipedrive,
}
