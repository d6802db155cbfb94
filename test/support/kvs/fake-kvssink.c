/*
 * A stand-in for AWS's kvssink (not in any package registry) so kvssink mode runs in tests:
 * same element name and launch-string properties, accepts avc/au H.264, and for every buffer
 * checks that credential-path holds a kvssink credential line, then appends
 * "<stream-name> <credential-path> <bytes>" to the file named by FAKE_KVSSINK_LOG.
 * Built by test/support/kvs/fake-kvssink.ts; never shipped.
 */
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <stdio.h>
#include <string.h>

#define PACKAGE "fakekvssink"

typedef struct { GstBaseSink parent; gchar *stream_name, *region, *credential_path; guint storage, retention, fragment, buffer; gboolean restart; } FakeKvsSink;
typedef struct { GstBaseSinkClass parent_class; } FakeKvsSinkClass;

G_DEFINE_TYPE(FakeKvsSink, fake_kvs_sink, GST_TYPE_BASE_SINK)

enum { P0, P_STREAM, P_REGION, P_CRED, P_STORAGE, P_RESTART, P_RETENTION, P_FRAGMENT, P_BUFFER };

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264,stream-format=avc,alignment=au"));

static void set_prop(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  FakeKvsSink *s = (FakeKvsSink *)o;
  switch (id) {
    case P_STREAM: g_free(s->stream_name); s->stream_name = g_value_dup_string(v); break;
    case P_REGION: g_free(s->region); s->region = g_value_dup_string(v); break;
    case P_CRED: g_free(s->credential_path); s->credential_path = g_value_dup_string(v); break;
    case P_STORAGE: s->storage = g_value_get_uint(v); break;
    case P_RESTART: s->restart = g_value_get_boolean(v); break;
    case P_RETENTION: s->retention = g_value_get_uint(v); break;
    case P_FRAGMENT: s->fragment = g_value_get_uint(v); break;
    case P_BUFFER: s->buffer = g_value_get_uint(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static void get_prop(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  FakeKvsSink *s = (FakeKvsSink *)o;
  switch (id) {
    case P_STREAM: g_value_set_string(v, s->stream_name); break;
    case P_REGION: g_value_set_string(v, s->region); break;
    case P_CRED: g_value_set_string(v, s->credential_path); break;
    case P_STORAGE: g_value_set_uint(v, s->storage); break;
    case P_RESTART: g_value_set_boolean(v, s->restart); break;
    case P_RETENTION: g_value_set_uint(v, s->retention); break;
    case P_FRAGMENT: g_value_set_uint(v, s->fragment); break;
    case P_BUFFER: g_value_set_uint(v, s->buffer); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static GstFlowReturn render(GstBaseSink *bs, GstBuffer *buf) {
  FakeKvsSink *s = (FakeKvsSink *)bs;
  gchar *creds = NULL;
  if (!s->credential_path || !g_file_get_contents(s->credential_path, &creds, NULL, NULL) || !g_str_has_prefix(creds, "CREDENTIALS\t")) {
    g_free(creds);
    GST_ELEMENT_ERROR(s, RESOURCE, READ, ("credential file missing or invalid"), ("%s", s->credential_path ? s->credential_path : "(none)"));
    return GST_FLOW_ERROR;
  }
  g_free(creds);
  const gchar *log = g_getenv("FAKE_KVSSINK_LOG");
  if (log) {
    FILE *f = fopen(log, "a");
    if (f) { fprintf(f, "%s %s %" G_GSIZE_FORMAT "\n", s->stream_name, s->credential_path, gst_buffer_get_size(buf)); fclose(f); }
  }
  return GST_FLOW_OK;
}

static void finalize(GObject *o) {
  FakeKvsSink *s = (FakeKvsSink *)o;
  g_free(s->stream_name); g_free(s->region); g_free(s->credential_path);
  G_OBJECT_CLASS(fake_kvs_sink_parent_class)->finalize(o);
}

static void fake_kvs_sink_class_init(FakeKvsSinkClass *k) {
  GObjectClass *oc = G_OBJECT_CLASS(k);
  GstElementClass *ec = GST_ELEMENT_CLASS(k);
  oc->set_property = set_prop;
  oc->get_property = get_prop;
  oc->finalize = finalize;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property(oc, P_STREAM, g_param_spec_string("stream-name", "", "", NULL, rw));
  g_object_class_install_property(oc, P_REGION, g_param_spec_string("aws-region", "", "", NULL, rw));
  g_object_class_install_property(oc, P_CRED, g_param_spec_string("credential-path", "", "", NULL, rw));
  g_object_class_install_property(oc, P_STORAGE, g_param_spec_uint("storage-size", "", "", 0, G_MAXUINT, 128, rw));
  g_object_class_install_property(oc, P_RESTART, g_param_spec_boolean("restart-on-error", "", "", TRUE, rw));
  g_object_class_install_property(oc, P_RETENTION, g_param_spec_uint("retention-period", "", "", 0, G_MAXUINT, 2, rw));
  g_object_class_install_property(oc, P_FRAGMENT, g_param_spec_uint("fragment-duration", "", "", 0, G_MAXUINT, 2000, rw));
  g_object_class_install_property(oc, P_BUFFER, g_param_spec_uint("buffer-duration", "", "", 0, G_MAXUINT, 120, rw));
  gst_element_class_add_static_pad_template(ec, &sink_template);
  gst_element_class_set_static_metadata(ec, "Fake kvssink", "Sink/Video/Network", "Test stand-in for AWS kvssink", "gst-skyline tests");
  GST_BASE_SINK_CLASS(k)->render = render;
}

static void fake_kvs_sink_init(FakeKvsSink *s) { s->storage = 128; s->restart = TRUE; gst_base_sink_set_sync(GST_BASE_SINK(s), FALSE); }

static gboolean plugin_init(GstPlugin *p) { return gst_element_register(p, "kvssink", GST_RANK_NONE, fake_kvs_sink_get_type()); }

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, fakekvssink, "Test stand-in for kvssink", plugin_init, "1.0", "MIT/X11", PACKAGE, "https://example.invalid")
