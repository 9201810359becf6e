{{- define "lts-flow.labels" -}}
app.kubernetes.io/name: lts-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: lts-flow
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "lts-flow.selector" -}}
app.kubernetes.io/name: lts-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}
