mod affected;
mod checkouts;
mod evidence;
mod notify;
mod payments;
mod properties;
mod util;
