/*
 * A stand-in for a hardware encoder that is installed but cannot start (nvh264enc on a machine
 * without an NVIDIA GPU): the element exists, takes nvh264enc's launch-string properties, and
 * fails its first state change with an element error, as the real one does without CUDA.
 * Built by test/support/encoder/fake-nvh264enc.ts; never shipped.
 */
#include <gst/gst.h>

#define PACKAGE "fakenvh264enc"

typedef struct { GstElement parent; guint bitrate, bframes; gint gop; gboolean zerolatency; gchar *rc_mode; } FakeEnc;
typedef struct { GstElementClass parent_class; } FakeEncClass;

G_DEFINE_TYPE(FakeEnc, fake_enc, GST_TYPE_ELEMENT)

enum { P0, P_BITRATE, P_GOP, P_BFRAMES, P_ZEROLATENCY, P_RCMODE };

static GstStaticPadTemplate sink_t = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));
static GstStaticPadTemplate src_t = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-h264"));

static void set_prop(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  FakeEnc *e = (FakeEnc *)o;
  switch (id) {
    case P_BITRATE: e->bitrate = g_value_get_uint(v); break;
    case P_GOP: e->gop = g_value_get_int(v); break;
    case P_BFRAMES: e->bframes = g_value_get_uint(v); break;
    case P_ZEROLATENCY: e->zerolatency = g_value_get_boolean(v); break;
    case P_RCMODE: g_free(e->rc_mode); e->rc_mode = g_value_dup_string(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static void get_prop(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  FakeEnc *e = (FakeEnc *)o;
  switch (id) {
    case P_BITRATE: g_value_set_uint(v, e->bitrate); break;
    case P_GOP: g_value_set_int(v, e->gop); break;
    case P_BFRAMES: g_value_set_uint(v, e->bframes); break;
    case P_ZEROLATENCY: g_value_set_boolean(v, e->zerolatency); break;
    case P_RCMODE: g_value_set_string(v, e->rc_mode); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static GstStateChangeReturn change_state(GstElement *el, GstStateChange t) {
  if (t == GST_STATE_CHANGE_NULL_TO_READY) {
    GST_ELEMENT_ERROR(el, LIBRARY, INIT, ("Failed to open encoder: no CUDA-capable device (test stand-in)"), (NULL));
    return GST_STATE_CHANGE_FAILURE;
  }
  return GST_ELEMENT_CLASS(fake_enc_parent_class)->change_state(el, t);
}

static void fake_enc_class_init(FakeEncClass *k) {
  GObjectClass *o = G_OBJECT_CLASS(k);
  GstElementClass *e = GST_ELEMENT_CLASS(k);
  o->set_property = set_prop;
  o->get_property = get_prop;
  g_object_class_install_property(o, P_BITRATE, g_param_spec_uint("bitrate", "", "", 0, G_MAXUINT, 0, G_PARAM_READWRITE));
  g_object_class_install_property(o, P_GOP, g_param_spec_int("gop-size", "", "", -1, G_MAXINT, 75, G_PARAM_READWRITE));
  g_object_class_install_property(o, P_BFRAMES, g_param_spec_uint("bframes", "", "", 0, 4, 0, G_PARAM_READWRITE));
  g_object_class_install_property(o, P_ZEROLATENCY, g_param_spec_boolean("zerolatency", "", "", FALSE, G_PARAM_READWRITE));
  g_object_class_install_property(o, P_RCMODE, g_param_spec_string("rc-mode", "", "", NULL, G_PARAM_READWRITE));
  e->change_state = change_state;
  gst_element_class_add_static_pad_template(e, &sink_t);
  gst_element_class_add_static_pad_template(e, &src_t);
  gst_element_class_set_static_metadata(e, "Fake nvh264enc", "Codec/Encoder/Video/Hardware", "Installed, never starts", "gst-skyline tests");
}

static void fake_enc_init(FakeEnc *e) {
  gst_element_add_pad(GST_ELEMENT(e), gst_pad_new_from_static_template(&sink_t, "sink"));
  gst_element_add_pad(GST_ELEMENT(e), gst_pad_new_from_static_template(&src_t, "src"));
}

static gboolean plugin_init(GstPlugin *p) { return gst_element_register(p, "nvh264enc", GST_RANK_NONE, fake_enc_get_type()); }

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, fakenvh264enc, "Test stand-in for a hardware encoder that cannot start", plugin_init, "1.0", "MIT/X11", PACKAGE, "https://example.invalid")
