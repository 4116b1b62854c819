if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo noenhanced size 560,420 font 'sans,10'
} else {
  set terminal png noenhanced size 560,420
}
set output '/work/wt-rnn/examples/char_lm/images/curves.png'
set datafile separator ','
set grid
set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05
set xrange [0:*]
set xtics 1
set xlabel 'epoch'
set multiplot layout 1,1 title 'tapegrad character LSTM on The Devil''s Dictionary (bits per character)'
set ylabel 'loss'
set key top right
plot '/tmp/clm_full/metrics.csv' using 1:2 skip 1 with linespoints pointtype 7 pointsize 0.6 title 'train_loss_bpc', '/tmp/clm_full/metrics.csv' using 1:3 skip 1 with linespoints pointtype 7 pointsize 0.6 title 'valid_loss_bpc'
unset multiplot
set output
