mod util;

mod evidence;
